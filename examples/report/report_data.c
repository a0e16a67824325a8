/* Small helpers of report_data. */
#include "report_data.h"

#include "buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void report_text_list(char *text, size_t size, const char *format,
                      va_list arguments)
{
    static const char ellipsis[] = "\xe2\x80\xa6";
    int length = vsnprintf(text, size, format, arguments);
    if (length < 0 || (size_t)length < size || size < sizeof ellipsis)
        return;
    size_t keep = report_utf8_cut(text, size - sizeof ellipsis);
    memcpy(text + keep, ellipsis, sizeof ellipsis);
}

void report_text(char *text, size_t size, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    report_text_list(text, size, format, arguments);
    va_end(arguments);
}

const char *report_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

void report_config_add(report_data *data, const char *key, const char *format,
                       ...)
{
    if (data->config_count >= REPORT_MAX_CONFIG)
        return;
    report_config_row *row = &data->config[data->config_count++];
    report_text(row->key, sizeof row->key, "%s", key);
    va_list arguments;
    va_start(arguments, format);
    report_text_list(row->value, sizeof row->value, format, arguments);
    va_end(arguments);
}

unsigned report_loss_series(const report_data *data)
{
    return data->kind == REPORT_CLASSIFIER ? 1 : data->classes;
}

const char *report_class_name(const report_data *data, unsigned k, char *room,
                              size_t room_size)
{
    if (data->class_names && data->class_names[k])
        return data->class_names[k];
    snprintf(room, room_size, "%u", k);
    return room;
}

const char *report_rule_name(enum report_rule rule)
{
    switch (rule) {
    case REPORT_SEED: return "seed rule";
    case REPORT_OWN_LABEL: return "own-label rule";
    case REPORT_IMAGE_BLIND: return "image-blind audit";
    }
    return "unknown rule";
}

const char *report_split_name(enum report_split split)
{
    return split == REPORT_TRAIN ? "train" : "test";
}
