/* Small helpers of report_data. */
#include "report_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void report_config_add(report_data *data, const char *key, const char *format,
                       ...)
{
    if (data->config_count >= REPORT_MAX_CONFIG)
        return;
    report_config_row *row = &data->config[data->config_count++];
    snprintf(row->key, sizeof row->key, "%s", key);
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(row->value, sizeof row->value, format, arguments);
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
