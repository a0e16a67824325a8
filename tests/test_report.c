/* Unit tests of the report machinery (examples/report): the buffer's
 * escaping and base64, the PNG writer (decoded back here chunk by chunk),
 * the SVG figures' content for known data (the pipeline's and the
 * classifier's), the HTML report's self-containment and the progress
 * line's text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buffer.h"
#include "html_report.h"
#include "loss_history.h"
#include "png_writer.h"
#include "progress.h"
#include "report_data.h"
#include "svg.h"

static size_t count_of(const char *haystack, const char *needle)
{
    size_t count = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p++)
        count++;
    return count;
}

static void test_escape(void **state)
{
    (void)state;
    report_buffer b;
    report_buffer_init(&b);
    report_buffer_escape(&b, "a<b & \"c\" > 'd'\x01");
    assert_string_equal(b.data, "a&lt;b &amp; &quot;c&quot; &gt; &#39;d&#39;"
                                "\xef\xbf\xbd");
    /* Bytes that are not UTF-8 (a Latin-1 file name, a cut sequence, an
     * overlong form) become U+FFFD; valid characters stay. */
    report_buffer_clear(&b);
    report_buffer_escape(&b,
                         "caf\xe9 \xc3\xa9 \xe2\x80 \xc0\xaf \xf0\x9f\x98\x80");
    assert_string_equal(b.data,
                        "caf\xef\xbf\xbd \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd "
                        "\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
    report_buffer_free(&b);
}

/* Text that does not fit is cut on a character boundary and ends in an
 * ellipsis; text that fits is left alone. */
static void test_text_fits(void **state)
{
    (void)state;
    char text[12];
    report_text(text, sizeof text, "%s", "short");
    assert_string_equal(text, "short");
    /* "\xc3\xa9" is 2 bytes: 8 bytes are kept at most, never half of one. */
    report_text(text, sizeof text, "%s",
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(text, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    report_text(text, sizeof text, "%s",
                "a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(text, "a\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    assert_string_equal(report_base_name("/a/b/labels.txt"), "labels.txt");
    assert_string_equal(report_base_name("labels.txt"), "labels.txt");
    assert_string_equal(report_base_name("models/"), "models/");
}

/* The configuration figure widens for a long value instead of cutting it
 * off at 720 px. */
static void test_config_figure_width(void **state)
{
    (void)state;
    report_data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    report_config_add(d, "program", "%s", "cosnet-train 0.2.0");
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_config_figure(&b, d), 0);
    assert_non_null(strstr(b.data, "width=\"720\""));
    char value[300];
    memset(value, 'x', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    report_config_add(d, "layers", "%s", value);
    report_buffer_clear(&b);
    assert_int_equal(svg_config_figure(&b, d), 0);
    assert_null(strstr(b.data, "width=\"720\""));
    assert_non_null(strstr(b.data, value));
    report_buffer_free(&b);
    free(d);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
    static const char *const encoded[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        report_buffer b;
        report_buffer_init(&b);
        report_buffer_puts(&b, "");
        report_buffer_base64(&b, (const uint8_t *)plain[i], strlen(plain[i]));
        assert_false(b.failed);
        assert_string_equal(b.data, encoded[i]);
        report_buffer_free(&b);
    }
}

static void test_printf_grows(void **state)
{
    (void)state;
    report_buffer b;
    report_buffer_init(&b);
    for (int i = 0; i < 5000; i++)
        report_buffer_printf(&b, "%d,", i);
    assert_false(b.failed);
    assert_int_equal(strlen(b.data), b.length);
    assert_non_null(strstr(b.data, ",4999,"));
    report_buffer_free(&b);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Decodes what png_write_gray writes (and checks everything on the way):
 * returns the pixels in a malloc'ed buffer. */
static uint8_t *decode_gray_png(const uint8_t *png, size_t size,
                                uint32_t *width, uint32_t *height)
{
    static const uint8_t signature[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    assert_true(size > 8);
    assert_memory_equal(png, signature, 8);
    size_t at = 8;
    uint8_t *idat = NULL;
    size_t idat_size = 0;
    int seen_header = 0, seen_end = 0;
    while (at + 12 <= size) {
        uint32_t length = get32(png + at);
        assert_true(at + 12 + length <= size);
        const uint8_t *type = png + at + 4;
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, type, 4 + length);
        assert_int_equal((uint32_t)crc, get32(png + at + 8 + length));
        if (memcmp(type, "IHDR", 4) == 0) {
            assert_int_equal(length, 13);
            *width = get32(type + 4);
            *height = get32(type + 8);
            assert_int_equal(type[12], 8); /* bit depth */
            assert_int_equal(type[13], 0); /* grayscale */
            assert_int_equal(type[16], 0); /* no interlace */
            seen_header = 1;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            idat = realloc(idat, idat_size + length);
            memcpy(idat + idat_size, type + 4, length);
            idat_size += length;
        } else if (memcmp(type, "IEND", 4) == 0) {
            assert_int_equal(length, 0);
            seen_end = 1;
        }
        at += 12 + length;
    }
    assert_int_equal(at, size);
    assert_true(seen_header && seen_end && idat);
    uLongf raw_size = (uLongf)(*width + 1) * *height;
    uint8_t *raw = malloc(raw_size + 1);
    uLongf got = raw_size + 1;
    assert_int_equal(uncompress(raw, &got, idat, idat_size), Z_OK);
    assert_int_equal(got, raw_size);
    uint8_t *pixels = malloc((size_t)*width * *height);
    for (uint32_t y = 0; y < *height; y++) {
        assert_int_equal(raw[y * (*width + 1)], 0); /* filter None */
        memcpy(pixels + (size_t)y * *width, raw + y * (*width + 1) + 1, *width);
    }
    free(raw);
    free(idat);
    return pixels;
}

static void test_png_round_trip(void **state)
{
    (void)state;
    const uint32_t w = 28, h = 28;
    uint8_t pixels[28 * 28];
    for (uint32_t i = 0; i < w * h; i++)
        pixels[i] = (uint8_t)(i * 37 + (i / 28) * 5);
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(png_write_gray(&b, pixels, w, h), 0);
    uint32_t dw = 0, dh = 0;
    uint8_t *decoded =
        decode_gray_png((const uint8_t *)b.data, b.length, &dw, &dh);
    assert_int_equal(dw, w);
    assert_int_equal(dh, h);
    assert_memory_equal(decoded, pixels, sizeof pixels);
    free(decoded);
    /* A non-square image, so width and height cannot be swapped. */
    report_buffer_clear(&b);
    assert_int_equal(png_write_gray(&b, pixels, 7, 3), 0);
    decoded = decode_gray_png((const uint8_t *)b.data, b.length, &dw, &dh);
    assert_int_equal(dw, 7);
    assert_int_equal(dh, 3);
    assert_memory_equal(decoded, pixels, 21);
    free(decoded);
    assert_int_equal(png_write_gray(&b, pixels, 0, 3), -1);
    report_buffer_free(&b);
}

/* Known data: confusion[rule][split][a][p] = 1000*rule + 100*split + 10*a+p
 * off the diagonal, larger on it. */
static report_data *sample_data(void)
{
    report_data *d = calloc(1, sizeof *d);
    d->program = "test";
    snprintf(d->configuration, sizeof d->configuration,
             "3 epochs x 2 batches of 4, <author> labels");
    d->classes = 10;
    for (int r = 0; r < REPORT_RULES; r++)
        for (int s = 0; s < REPORT_SPLITS; s++) {
            size_t correct = 0, total = 0;
            for (unsigned a = 0; a < 10; a++)
                for (unsigned p = 0; p < 10; p++) {
                    size_t v = a == p ? 5000 + 10 * a
                                      : 100 * (size_t)r + 10 * s + a + p;
                    d->confusion[r][s][a][p] = v;
                    total += v;
                    if (a == p)
                        correct += v;
                }
            d->correct[r][s] = correct;
            d->total[s] = total;
        }
    report_config_add(d, "version", "%s", "0.1.0");
    report_config_add(d, "threads", "%u", 2u);
    return d;
}

/* The heatmap of rule r, split s: 100 cells, each carrying d's count as
 * data and as text. */
static void assert_cells(const char *svg, const report_data *d, int r, int s)
{
    assert_int_equal(count_of(svg, "class=\"cell\""), 100);
    for (unsigned a = 0; a < 10; a++)
        for (unsigned p = 0; p < 10; p++) {
            char cell[160];
            snprintf(cell, sizeof cell,
                     "data-actual=\"%u\" data-predicted=\"%u\" "
                     "data-count=\"%zu\"",
                     a, p, d->confusion[r][s][a][p]);
            if (!strstr(svg, cell))
                fail_msg("missing cell %s", cell);
            /* The count is printed as text too. */
            snprintf(cell, sizeof cell, ">%zu</text>",
                     d->confusion[r][s][a][p]);
            assert_non_null(strstr(svg, cell));
        }
}

static void test_confusion_cells(void **state)
{
    (void)state;
    report_data *d = sample_data();
    for (int r = 0; r < 2; r++)
        for (int s = 0; s < 2; s++) {
            report_buffer b;
            report_buffer_init(&b);
            assert_int_equal(svg_confusion_figure(&b, d, (enum report_rule)r,
                                                  (enum report_split)s),
                             0);
            assert_cells(b.data, d, r, s);
            /* Row 0's accuracy: 5000 of 5000 + sum of its off-diagonal. */
            size_t row = 0;
            for (unsigned p = 0; p < 10; p++)
                row += d->confusion[r][s][0][p];
            char accuracy[32];
            snprintf(accuracy, sizeof accuracy, ">%.1f%%</text>",
                     100.0 * 5000 / (double)row);
            assert_non_null(strstr(b.data, accuracy));
            /* The title carries the configuration, escaped. */
            assert_non_null(strstr(b.data, "&lt;author&gt; labels"));
            assert_null(strstr(b.data, "<author>"));
            report_buffer_free(&b);
        }
    free(d);
}

static void test_rules_bars(void **state)
{
    (void)state;
    report_data *d = sample_data();
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_rules_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "class=\"bar\""), 6);
    char expected[128];
    snprintf(expected, sizeof expected,
             "data-rule=\"1\" data-split=\"test\" data-correct=\"%zu\" "
             "data-total=\"%zu\"",
             d->correct[1][1], d->total[1]);
    assert_non_null(strstr(b.data, expected));
    assert_non_null(strstr(b.data, "The seed rule reads the true label: a "
                                   "predictor that never looks at the image "
                                   "scores 100% under it."));
    report_buffer_free(&b);
    free(d);
}

static void test_loss_curves(void **state)
{
    (void)state;
    report_data *d = sample_data();
    enum { epochs = 20 };
    float loss[10 * epochs];
    for (unsigned k = 0; k < 10; k++)
        for (unsigned e = 0; e < epochs; e++)
            loss[k * epochs + e] = 0.5f * powf(0.8f, (float)e) / (1.0f + k);
    d->loss = loss;
    d->epochs = epochs;
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_loss_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "<polyline"), 10);
    assert_int_equal(count_of(b.data, "class=\"loss\""), 10);
    assert_int_equal(count_of(b.data, "<circle"), 10 * epochs);
    /* Legend: the last loss of digit 9. */
    char legend[64];
    snprintf(legend, sizeof legend, ">9: %.4f</text>",
             (double)loss[9 * epochs + epochs - 1]);
    assert_non_null(strstr(b.data, legend));
    /* A NaN breaks a line in two. */
    loss[3 * epochs + 10] = NAN;
    report_buffer_clear(&b);
    assert_int_equal(svg_loss_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "<polyline"), 11);
    /* No history: a sentence, no line. */
    d->loss = NULL;
    report_buffer_clear(&b);
    assert_int_equal(svg_loss_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "<polyline"), 0);
    assert_non_null(strstr(b.data, "No loss history"));
    report_buffer_free(&b);
    free(d);
}

static void test_gallery(void **state)
{
    (void)state;
    report_data *d = sample_data();
    report_gallery_entry entries[3];
    memset(entries, 0, sizeof entries);
    for (int i = 0; i < 3; i++) {
        entries[i].index = 100u + (size_t)i;
        entries[i].truth = (unsigned)i + 4;
        entries[i].predicted = 9u - (unsigned)i;
        entries[i].predicted_similarity = 0.9f - 0.01f * i;
        entries[i].true_similarity = 0.8f;
        for (int p = 0; p < 28 * 28; p++)
            entries[i].pixels[p] = (uint8_t)(p + 50 * i);
    }
    d->gallery = entries;
    d->gallery_count = 3;
    d->gallery_errors = 1234;
    d->gallery_rule = REPORT_OWN_LABEL;
    d->image_rows = d->image_columns = 28;
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_gallery_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "<image "), 3);
    assert_int_equal(count_of(b.data, "data:image/png;base64,"), 3);
    assert_non_null(strstr(b.data, "own-label rule: 3 of 1234"));
    for (int i = 0; i < 3; i++) {
        char expected[128];
        snprintf(expected, sizeof expected,
                 "data-index=\"%d\" data-true=\"%d\" data-predicted=\"%d\"",
                 100 + i, 4 + i, 9 - i);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">true %d, said %d</text>", 4 + i,
                 9 - i);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">s%d = %.4f</text>", 9 - i,
                 (double)entries[i].predicted_similarity);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">s%d = 0.8000</text>", 4 + i);
        assert_non_null(strstr(b.data, expected));
    }
    report_buffer_free(&b);
    free(d);
}

static void test_html_self_contained(void **state)
{
    (void)state;
    report_data *d = sample_data();
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(html_report_build(&b, d), 0);
    assert_true(strncmp(b.data, "<!DOCTYPE html>", 15) == 0);
    assert_int_equal(count_of(b.data, "<svg "), 8 - 1); /* config: a table */
    assert_int_equal(count_of(b.data, "</svg>"), 7);
    assert_null(strstr(b.data, "<script"));
    assert_null(strstr(b.data, "<link"));
    assert_null(strstr(b.data, "src="));
    assert_null(strstr(b.data, "url("));
    assert_null(strstr(b.data, "@import"));
    /* The only http:// are XML namespace names. */
    assert_int_equal(count_of(b.data, "http"),
                     count_of(b.data, "xmlns=\"http://www.w3.org/2000/svg\"") +
                         count_of(b.data, "xmlns:xlink=\"http://www.w3.org/"
                                          "1999/xlink\""));
    assert_non_null(strstr(b.data, "<th>threads</th><td>2</td>"));
    assert_non_null(strstr(b.data, "The seed rule reads the true label"));
    report_buffer_free(&b);
    free(d);
}

/* cosnet-train's kind of report: one classifier, Fashion-MNIST's names,
 * the test split only (counts kept as the own-label rule's). */
static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static report_data *classifier_data(void)
{
    report_data *d = sample_data();
    d->kind = REPORT_CLASSIFIER;
    d->class_names = fashion_names;
    /* Only the test split was evaluated. */
    memset(d->confusion, 0, sizeof d->confusion);
    memset(d->correct, 0, sizeof d->correct);
    memset(d->total, 0, sizeof d->total);
    size_t total = 0, correct = 0;
    for (unsigned a = 0; a < 10; a++)
        for (unsigned p = 0; p < 10; p++) {
            size_t v = a == p ? 800 + a : 3 * a + p;
            d->confusion[REPORT_OWN_LABEL][REPORT_TEST][a][p] = v;
            total += v;
            correct += a == p ? v : 0;
        }
    d->correct[REPORT_OWN_LABEL][REPORT_TEST] = correct;
    d->total[REPORT_TEST] = total;
    return d;
}

static void test_classifier_loss(void **state)
{
    (void)state;
    report_data *d = classifier_data();
    enum { epochs = 6 };
    /* Only the first `epochs` values are the classifier's: the rest would
     * be other series, which it does not have. */
    float loss[epochs + 1] = {0.4f, 0.2f, 0.1f, 0.08f, 0.07f, 0.0625f, 99.0f};
    double validation[epochs] = {0.81, 0.85, -1, 0.9, 0.91, 0.925};
    d->loss = loss;
    d->epochs = epochs;
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_loss_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "class=\"loss\""), 1);
    assert_int_equal(count_of(b.data, "<polyline"), 1);
    assert_int_equal(count_of(b.data, "<circle"), epochs);
    assert_int_equal(count_of(b.data, "class=\"validation\""), 0);
    assert_non_null(strstr(b.data, "Training loss per epoch (log scale)"));
    assert_null(strstr(b.data, "digit"));
    assert_non_null(strstr(b.data, ">0.0625</text>"));
    /* With the validation accuracy: a second series, broken where an epoch
     * has none (-1), with its own axis and the last value. */
    d->validation_accuracy = validation;
    report_buffer_clear(&b);
    assert_int_equal(svg_loss_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "class=\"loss\""), 1);
    assert_int_equal(count_of(b.data, "class=\"validation\""), 1);
    assert_int_equal(count_of(b.data, "<polyline"), 1 + 2);
    assert_int_equal(count_of(b.data, "<circle"), epochs + epochs - 1);
    assert_int_equal(count_of(b.data, "stroke-dasharray=\"6,3\" points="), 2);
    assert_non_null(strstr(b.data, ">92.50%</text>"));
    assert_non_null(strstr(b.data, ">validation accuracy</text>"));
    /* 81% is the lowest: the axis runs from 80% to 100% by 5%. */
    assert_non_null(strstr(b.data, ">80%</text>"));
    assert_non_null(strstr(b.data, ">85%</text>"));
    assert_non_null(strstr(b.data, ">100%</text>"));
    assert_null(strstr(b.data, ">75%</text>"));
    report_buffer_free(&b);
    free(d);
}

static void test_classifier_confusion(void **state)
{
    (void)state;
    report_data *d = classifier_data();
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_confusion_figure(&b, d, REPORT_OWN_LABEL, REPORT_TEST),
                     0);
    assert_cells(b.data, d, REPORT_OWN_LABEL, REPORT_TEST);
    assert_int_equal(d->confusion[REPORT_OWN_LABEL][REPORT_TEST][2][7], 13);
    /* Each name twice: a row label and a column label. */
    for (int k = 0; k < 10; k++) {
        char name[64];
        snprintf(name, sizeof name, ">%s</text>", fashion_names[k]);
        assert_int_equal(count_of(b.data, name), 2);
    }
    /* Row 9 (Ankle boot): 809 of 809 + 27 * 9 + 36. */
    char accuracy[32];
    snprintf(accuracy, sizeof accuracy, ">%.1f%%</text>",
             100.0 * 809 / (809.0 + 27 * 9 + 36));
    assert_non_null(strstr(b.data, accuracy));
    char heading[96];
    snprintf(heading, sizeof heading, ">test set: %zu/%zu (",
             d->correct[REPORT_OWN_LABEL][REPORT_TEST], d->total[REPORT_TEST]);
    assert_non_null(strstr(b.data, heading));
    assert_null(strstr(b.data, "rule"));
    report_buffer_free(&b);
    free(d);
}

static void test_classifier_gallery(void **state)
{
    (void)state;
    report_data *d = classifier_data();
    report_gallery_entry entries[5];
    memset(entries, 0, sizeof entries);
    for (int i = 0; i < 5; i++) {
        entries[i].index = 7u * (size_t)i;
        entries[i].truth = (unsigned)(2 * i);
        entries[i].predicted = (unsigned)(9 - i);
        entries[i].predicted_similarity = 0.7f + 0.01f * i;
        entries[i].true_similarity = 0.65f;
    }
    d->gallery = entries;
    d->gallery_count = 5;
    d->gallery_errors = 77;
    d->image_rows = d->image_columns = 28;
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(svg_gallery_figure(&b, d), 0);
    assert_int_equal(count_of(b.data, "<image "), 5);
    assert_non_null(strstr(b.data, "Misclassified test images: 5 of 77"));
    for (int i = 0; i < 5; i++) {
        char expected[128];
        snprintf(expected, sizeof expected,
                 "data-index=\"%d\" data-true=\"%d\" data-predicted=\"%d\"",
                 7 * i, 2 * i, 9 - i);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">true %s</text>",
                 fashion_names[2 * i]);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">said %s</text>",
                 fashion_names[9 - i]);
        assert_non_null(strstr(b.data, expected));
        snprintf(expected, sizeof expected, ">s(said) = %.4f</text>",
                 (double)entries[i].predicted_similarity);
        assert_non_null(strstr(b.data, expected));
    }
    assert_int_equal(count_of(b.data, ">s(true) = 0.6500</text>"), 5);
    report_buffer_free(&b);
    free(d);
}

static void test_classifier_html(void **state)
{
    (void)state;
    report_data *d = classifier_data();
    float loss[3] = {0.3f, 0.2f, 0.1f};
    d->loss = loss;
    d->epochs = 3;
    report_buffer b;
    report_buffer_init(&b);
    assert_int_equal(html_report_build(&b, d), 0);
    /* loss, test confusion, gallery; the configuration is a table. */
    assert_int_equal(count_of(b.data, "<svg "), 3);
    assert_non_null(strstr(b.data, "id=\"figure-confusion-test\""));
    assert_null(strstr(b.data, "figure-confusion-train"));
    assert_null(strstr(b.data, "figure-rules"));
    assert_null(strstr(b.data, "seed rule"));
    char sentence[96];
    snprintf(sentence, sizeof sentence, "Test accuracy: %zu/%zu (",
             d->correct[REPORT_OWN_LABEL][REPORT_TEST], d->total[REPORT_TEST]);
    assert_non_null(strstr(b.data, sentence));
    /* A train split with images gets its own heatmap. */
    d->confusion[REPORT_OWN_LABEL][REPORT_TRAIN][0][0] = 5;
    d->correct[REPORT_OWN_LABEL][REPORT_TRAIN] = 5;
    d->total[REPORT_TRAIN] = 5;
    report_buffer_clear(&b);
    assert_int_equal(html_report_build(&b, d), 0);
    assert_int_equal(count_of(b.data, "<svg "), 4);
    assert_non_null(strstr(b.data, "id=\"figure-confusion-train\""));
    assert_non_null(strstr(b.data, "Train accuracy: 5/5 (100.00%)"));
    report_buffer_free(&b);
    /* The SVG folder holds the shown figures only. */
    char folder[] = "/tmp/cosnet-test-report-XXXXXX";
    assert_non_null(mkdtemp(folder));
    char message[1024];
    assert_int_equal(
        html_report_write_svg_dir(d, folder, message, sizeof message), 0);
    static const char *const files[] = {"loss", "confusion-test",
                                        "confusion-train", "gallery", "config"};
    char path[128];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s.svg", folder, files[i]);
        if (access(path, R_OK) != 0)
            fail_msg("no %s", path);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/rules.svg", folder);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(rmdir(folder), 0); /* nothing else was written */
    free(d);
}

static void test_progress_format(void **state)
{
    (void)state;
    char line[256];
    size_t length = progress_format(line, sizeof line, 80, "training", 450,
                                    1000, 1234.4, "images/s", 3.2);
    assert_int_equal(length, strlen(line));
    assert_true(length <= 79);
    assert_non_null(strstr(line, "training ["));
    assert_non_null(strstr(line, " 45%"));
    assert_non_null(strstr(line, "1234 images/s"));
    assert_non_null(strstr(line, "ETA 0:03"));
    /* The bar: 45% of its cells are filled. */
    const char *open = strchr(line, '['), *close = strchr(line, ']');
    size_t cells = (size_t)(close - open - 1), full = 0;
    for (const char *p = open + 1; p < close; p++)
        full += *p == '#';
    assert_int_equal(full, (size_t)(cells * 0.45));
    /* Narrow terminal: no bar, never wider than width - 1. */
    length = progress_format(line, sizeof line, 30, "training", 1, 3, -1,
                             "images/s", -1);
    assert_true(length <= 29);
    assert_null(strchr(line, '['));
    /* Narrower still: the rate and then the label give way, never the
     * percentage or the ETA. */
    length = progress_format(line, sizeof line, 40,
                             "epoch 2/3 (loss 1.2848, val 83.92%)", 1, 2, 25000,
                             "images/s", 65);
    assert_true(length <= 39);
    assert_non_null(strstr(line, " 50%  ETA 1:05"));
    assert_null(strstr(line, "images/s"));
    /* Wide terminal: the bar stops at 50 cells; done beyond total clamps. */
    length = progress_format(line, sizeof line, 300, "evaluation", 7, 5, 10,
                             "images/s", 3725);
    assert_non_null(strstr(line, "100%"));
    assert_non_null(strstr(line, "ETA 1:02:05"));
    assert_int_equal(count_of(line, "#"), 50);
}

static void test_progress_silent_without_terminal(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    progress *line = progress_start(fds[1], "training", "images/s", 10, 1);
    assert_null(line); /* a pipe is no terminal */
    progress_add(line, 5);
    progress_finish(line);
    close(fds[1]);
    char buffer[16];
    assert_int_equal(read(fds[0], buffer, sizeof buffer), 0);
    close(fds[0]);
}

static void test_loss_history(void **state)
{
    (void)state;
    loss_history history;
    assert_int_equal(loss_history_init(&history, 2, 3, 2, 1), 0);
    for (unsigned k = 0; k < 2; k++) {
        loss_tracker tracker = {&history, NULL, k, 20};
        for (unsigned e = 1; e <= 2; e++) { /* epoch 3 never reached */
            for (size_t b = 0; b < 2; b++)
                assert_int_equal(loss_tracker_callback(&tracker, e, b,
                                                       0.5f * (float)(k + 1) /
                                                           (float)(e + b)),
                                 0);
            loss_history_epoch(&history, k, e, 0.25f * (float)(k + e));
        }
        /* Out of range: ignored, no write outside the arrays. */
        loss_tracker_callback(&tracker, 4, 0, 1.0f);
        loss_tracker_callback(&tracker, 1, 2, 1.0f);
        loss_history_epoch(&history, k, 0, 1.0f);
        loss_history_epoch(&history, 2, 1, 1.0f);
    }
    char text[1024];
    FILE *out = fmemopen(text, sizeof text, "w");
    assert_non_null(out);
    loss_history_json(out, &history, 1);
    fclose(out);
    assert_string_equal(text, "{\"epoch\": [\n    [0.25, 0.5, null],\n"
                              "    [0.5, 0.75, null]],\n"
                              "   \"batch\": [\n    [[0.5, 0.25],\n"
                              "     [0.25, 0.166666672],\n     [null, null]],\n"
                              "    [[1, 0.5],\n     [0.5, 0.333333343],\n"
                              "     [null, null]]]}");
    out = fmemopen(text, sizeof text, "w");
    loss_history_json(out, &history, 0);
    fclose(out);
    assert_non_null(strstr(text, "\"batch\": null}"));
    loss_history_free(&history);
    /* Not keeping batches: no batch array. */
    assert_int_equal(loss_history_init(&history, 10, 20, 25, 0), 0);
    assert_null(history.batch);
    assert_true(isnan(history.epoch[199]));
    loss_history_free(&history);
}

static void test_terminal_width_fallbacks(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0); /* no TIOCGWINSZ on a pipe */
    const char *saved = getenv("COLUMNS");
    char *copy = saved ? strdup(saved) : NULL;
    setenv("COLUMNS", "57", 1);
    assert_int_equal(progress_terminal_width(fds[1]), 57);
    setenv("COLUMNS", "wide", 1);
    assert_int_equal(progress_terminal_width(fds[1]), 80);
    unsetenv("COLUMNS");
    assert_int_equal(progress_terminal_width(fds[1]), 80);
    if (copy)
        setenv("COLUMNS", copy, 1);
    free(copy);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_text_fits),
        cmocka_unit_test(test_config_figure_width),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_confusion_cells),
        cmocka_unit_test(test_rules_bars),
        cmocka_unit_test(test_loss_curves),
        cmocka_unit_test(test_gallery),
        cmocka_unit_test(test_html_self_contained),
        cmocka_unit_test(test_classifier_loss),
        cmocka_unit_test(test_classifier_confusion),
        cmocka_unit_test(test_classifier_gallery),
        cmocka_unit_test(test_classifier_html),
        cmocka_unit_test(test_loss_history),
        cmocka_unit_test(test_progress_format),
        cmocka_unit_test(test_progress_silent_without_terminal),
        cmocka_unit_test(test_terminal_width_fallbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
