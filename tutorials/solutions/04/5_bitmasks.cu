/* Reference solution of exercise 4: the lines that replace the TODO in tutorials/exercises/04/5_bitmasks.cu. */
#pragma unroll
    for (int k = 0; k < ROWS_PER_WARP; k++) {
        if (!(vis_bits[k][0] | vis_bits[k][1]))
            continue; /* DESIGN: a tile with no visible key leaves the state untouched */
        if (m[k] != -INFINITY) {
            const float a = ea_expf(m[k] - m_new[k]);
            l[k] = l[k] * a;
#pragma unroll
            for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    acc[k][c][e] = acc[k][c][e] * a;
        }
        m[k] = m_new[k];
    }
