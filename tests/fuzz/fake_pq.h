/* fake_pq - see fake_pq.c: libpq answered from a table, for fuzz_router. */
#ifndef IG_FAKE_PQ_H
#define IG_FAKE_PQ_H

extern unsigned	 fake_pq_mode;

#endif
