/* Reference solution of exercise 3: the lines that replace the TODO in tutorials/exercises/03/canonical.c. */
                float l = c->l[row];
                if (c->m[row] != -INFINITY) {
                    const float a = ea_expf(c->m[row] - m_new);
                    l = l * a;
                    for (int32_t d = 0; d < Dv; d++)
                        acc[d] = acc[d] * a;
                }
                for (int32_t k = 0; k < nv; k++) {
                    const float pk = ea_expf(s[vis[k]] - m_new);
                    const float *v = c->v + vis[k] * Dv;
                    l = l + pk;
                    for (int32_t d = 0; d < Dv; d++)
                        acc[d] = fmaf(pk, v[d], acc[d]);
                }
                c->l[row] = l;
                c->m[row] = m_new;
