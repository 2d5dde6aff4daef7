/* The state of one row owned by one thread, for kernels 1 and 2: where its query is, its online
 * softmax (m, l, acc), and the stages that touch only that state: the softmax update and the
 * epilogue. */
#ifndef EA_ATTENTION_ROW_STATE_CUH
#define EA_ATTENTION_ROW_STATE_CUH

#include "common.cuh"

struct row_state {
    int h, r, t;          /* query head, query row of the request, position P + r */
    const uint8_t *mask;  /* the row's custom mask, or NULL */
    int64_t q0;           /* its query in q */
    float m, l;           /* running max and sum */
    float acc[EA_MAX_HEAD_DIM];
};

/* Query row r of request i, query head h: where it lives, and an empty state. */
__device__ static void begin_row(row_state &st, const ea_attn_args &args, int i, const request &req, int h, int r)
{
    st.h = h, st.r = r, st.t = req.P + r;
    st.mask = mask_row_of(args, i, req, r);
    st.q0 = ((int64_t)(req.row0 + r) * args.hq + h) * args.dqk;
    st.m = -INFINITY, st.l = 0.0f;
    for (int d = 0; d < args.dv; d++)
        st.acc[d] = 0.0f;
}

/* Pass 2, first (softmax update): what was summed under the old max, rescaled to the new one. */
__device__ static void rescale_state(row_state &st, float m_new, int dv)
{
    if (st.m != -INFINITY) {
        const float a = ea_expf(st.m - m_new);
        st.l = st.l * a;
        for (int d = 0; d < dv; d++)
            st.acc[d] = st.acc[d] * a;
    }
    st.m = m_new;
}

/* Epilogue (write): sink, normalise, round to the storage type. */
__device__ static void write_row(const ea_attn_args &args, const request &req, const row_state &st)
{
    const float den = denominator(args, st.h, st.m, st.l);
    const int64_t o0 = ((int64_t)(req.row0 + st.r) * args.hq + st.h) * args.dv;
    for (int d = 0; d < args.dv; d++)
        store_output(args, o0 + d, st.acc[d], den, st.m == -INFINITY);
}

#endif
