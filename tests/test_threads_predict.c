/* One model shared read-only by four threads that predict at once (the
 * header promises it): every thread's outputs must equal, bit for bit, the
 * outputs computed beforehand on the main thread. Run under
 * ThreadSanitizer by scripts/test.sh, where any data race is a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cosnet.h"

enum { THREADS = 4, IMAGES = 6, ROUNDS = 5, PIXELS = 28 * 28, DIMS = 25 };

typedef struct predictor {
    const cosnet_model *model;
    const float *images;
    const float *expected;
    int mismatches;
    cosnet_status status;
} predictor;

static void *predict_rounds(void *argument)
{
    predictor *p = argument;
    float outputs[IMAGES * DIMS];
    for (int round = 0; round < ROUNDS; round++) {
        /* A different batch split every round: one call of all images,
         * then images one by one, so the scratch sizes differ too. */
        if (round % 2 == 0) {
            p->status =
                cosnet_model_predict(p->model, p->images, IMAGES, outputs);
        } else {
            for (int i = 0; i < IMAGES && p->status == COSNET_OK; i++)
                p->status = cosnet_model_predict(
                    p->model, p->images + i * PIXELS, 1, outputs + i * DIMS);
        }
        if (p->status != COSNET_OK)
            return NULL;
        if (memcmp(outputs, p->expected, sizeof outputs) != 0)
            p->mismatches++;
    }
    return NULL;
}

static void test_shared_model_predicts_from_four_threads(void **state)
{
    (void)state;
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 42, &model),
                     COSNET_OK);
    assert_int_equal(cosnet_model_output_dims(model), DIMS);
    static float images[IMAGES * PIXELS];
    uint32_t random_state = 2463534242u;
    for (size_t i = 0; i < IMAGES * PIXELS; i++) {
        random_state ^= random_state << 13;
        random_state ^= random_state >> 17;
        random_state ^= random_state << 5;
        images[i] = (float)(random_state >> 24) / 255.0f;
    }
    float expected[IMAGES * DIMS];
    assert_int_equal(cosnet_model_predict(model, images, IMAGES, expected),
                     COSNET_OK);

    predictor predictors[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        predictors[t] = (predictor){model, images, expected, 0, COSNET_OK};
        assert_int_equal(
            pthread_create(&threads[t], NULL, predict_rounds, &predictors[t]),
            0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(predictors[t].status, COSNET_OK);
        assert_int_equal(predictors[t].mismatches, 0);
    }
    cosnet_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model_predicts_from_four_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
