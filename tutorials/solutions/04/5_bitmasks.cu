/* Reference solution of exercise 4: the lines that replace the TODO in tutorials/exercises/04/5_bitmasks.cu. */
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        if (!(vis_bits[wr][0] | vis_bits[wr][1]))
            continue; /* DESIGN: a tile with no visible key leaves the state untouched */
        if (m[wr] != -INFINITY) {
            const float a = ea_expf(m[wr] - m_new[wr]);
            l[wr] = l[wr] * a;
#pragma unroll
            for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    acc[wr][c][e] = acc[wr][c][e] * a;
        }
        m[wr] = m_new[wr];
    }
