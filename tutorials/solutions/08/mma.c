/* Reference solution of exercise 8: the lines that replace the TODO in tutorials/exercises/08/mma.c. */
    const int shift = t->lsb_exp - grid_exp;
    uint64_t units;
    if (shift >= 0)
        units = t->sig << shift; /* at most 11 bits up (12 with 26 kept bits): exact */
    else if (-shift < 64)
        units = t->sig >> -shift; /* the dropped bits are the truncation */
    else
        units = 0;
    return t->neg ? -(int64_t)units : (int64_t)units;
