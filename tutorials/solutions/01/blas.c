/* Reference solution of exercise 1: the lines that replace the TODO in tutorials/exercises/01/blas.c. */
                    const uint8_t *mask_row = ea_mask_row(b, i, r, P, E);
                    float *s = S + (size_t)k * T;
                    float mx = -INFINITY;
                    for (int32_t u = 0; u < T; u++) {
                        if (!ea_visible(p, mask_row, P + r, u)) {
                            s[u] = -INFINITY;
                            continue;
                        }
                        if (p->logit_cap > 0.0f)
                            s[u] = p->logit_cap * tanhf(s[u] / p->logit_cap);
                        mx = fmaxf(mx, s[u]);
                    }
                    float sum = 0.0f;
                    for (int32_t u = 0; u < T; u++) {
                        s[u] = mx == -INFINITY ? 0.0f : expf(s[u] - mx);
                        sum += s[u];
                    }
                    if (mx != -INFINITY && p->sinks)
                        sum += expf(p->sinks[h] - mx);
                    const float inv = mx == -INFINITY ? 0.0f : 1.0f / sum;
                    for (int32_t u = 0; u < T; u++)
                        s[u] *= inv;
