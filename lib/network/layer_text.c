/* Layer lists as text, for the public API and the programs' --arch:
 *   "conv3x3 32 pad 1, relu, maxpool2x2, flatten, dense 128, relu,
 *    dropout 0.5, dense 25"
 * Layers are separated by commas; a conv3x3 takes its output channels and
 * optionally "pad N" (default 0); a dense layer its output features; a
 * dropout layer the fraction it drops while training (0.001..0.9, at most
 * three decimals). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "network/layer_text.h"

static const char *skip_spaces(const char *at)
{
    while (*at == ' ' || *at == '\t' || *at == '\n')
        at++;
    return at;
}

/* A word of letters and digits at `at` equal to `word`. */
static int take_word(const char **at, const char *word)
{
    const char *p = skip_spaces(*at);
    size_t n = strlen(word);
    if (strncmp(p, word, n) != 0 || isalnum((unsigned char)p[n]))
        return 0;
    *at = p + n;
    return 1;
}

/* A fraction "0.5", ".25" or "0.125" as thousandths (at most three
 * decimals, below 1). */
static int take_thousandths(const char **at, unsigned *value)
{
    const char *p = skip_spaces(*at);
    if (*p == '0')
        p++;
    if (*p != '.' || !isdigit((unsigned char)p[1]))
        return 0;
    p++;
    unsigned thousandths = 0, digits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (digits == 3)
            return 0;
        thousandths = thousandths * 10 + (unsigned)(*p - '0');
    }
    for (; digits < 3; digits++)
        thousandths *= 10;
    *value = thousandths;
    *at = p;
    return 1;
}

static int take_number(const char **at, unsigned *value)
{
    const char *p = skip_spaces(*at);
    if (!isdigit((unsigned char)*p))
        return 0;
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(p, &end, 10);
    if (errno != 0 || v > 0xffffffffu)
        return 0;
    *value = (unsigned)v;
    *at = end;
    return 1;
}

cosnet_status layer_text_parse(const char *text, layer_spec *specs,
                               size_t *count_out)
{
    const char *at = text;
    size_t count = 0;
    for (;;) {
        if (count == ARCHITECTURE_MAX_LAYERS)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "layers \"%s\": more than %d layers", text,
                             ARCHITECTURE_MAX_LAYERS);
        layer_spec *s = &specs[count];
        *s = (layer_spec){0, 0, 0};
        const char *start = skip_spaces(at);
        if (take_word(&at, "conv3x3")) {
            s->kind = LAYER_CONV3X3;
            if (!take_number(&at, &s->size))
                goto bad;
            if (take_word(&at, "pad") && !take_number(&at, &s->pad))
                goto bad;
        } else if (take_word(&at, "dense")) {
            s->kind = LAYER_DENSE;
            if (!take_number(&at, &s->size))
                goto bad;
        } else if (take_word(&at, "dropout")) {
            s->kind = LAYER_DROPOUT;
            if (!take_thousandths(&at, &s->size))
                goto bad;
        } else if (take_word(&at, "relu")) {
            s->kind = LAYER_RELU;
        } else if (take_word(&at, "maxpool2x2")) {
            s->kind = LAYER_MAXPOOL2X2;
        } else if (take_word(&at, "flatten")) {
            s->kind = LAYER_FLATTEN;
        } else {
            goto bad;
        }
        at = skip_spaces(at);
        if (*at != '\0' && *at != ',')
            goto bad;
        count++;
        if (*at == '\0')
            break;
        at++;
        continue;
    bad:
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "layers \"%s\": cannot read layer %zu at \"%.24s\" "
                         "(expected conv3x3 N [pad P], relu, maxpool2x2, "
                         "flatten, dense N or dropout F, separated by "
                         "commas)",
                         text, count, start);
    }
    *count_out = count;
    return COSNET_OK;
}

void layer_text_format(const layer_spec *specs, size_t count, char *out,
                       size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        const layer_spec *s = &specs[i];
        const char *separator = i ? ", " : "";
        int n = 0;
        switch (s->kind) {
        case LAYER_CONV3X3:
            n = snprintf(out + used, size - used, "%sconv3x3 %u pad %u",
                         separator, s->size, s->pad);
            break;
        case LAYER_DENSE:
            n = snprintf(out + used, size - used, "%sdense %u", separator,
                         s->size);
            break;
        case LAYER_RELU:
            n = snprintf(out + used, size - used, "%srelu", separator);
            break;
        case LAYER_MAXPOOL2X2:
            n = snprintf(out + used, size - used, "%smaxpool2x2", separator);
            break;
        case LAYER_FLATTEN:
            n = snprintf(out + used, size - used, "%sflatten", separator);
            break;
        case LAYER_DROPOUT:
            n = snprintf(out + used, size - used, "%sdropout %g", separator,
                         s->size / 1000.0);
            break;
        }
        if (n < 0)
            return;
        used += (size_t)n;
    }
}
