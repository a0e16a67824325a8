/* The example programs' timings: seconds on the monotonic clock. */
#ifndef COSNET_EXAMPLES_CLOCK_H
#define COSNET_EXAMPLES_CLOCK_H

/* Seconds since an unspecified start; only differences mean anything. */
double clock_seconds(void);

#endif
