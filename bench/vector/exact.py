"""In-process CPU per query of VectorDB.search: Chroma's HNSW (exact=False) against the exact
numpy copy (exact=True), with and without include=(), unfiltered and where-filtered (10%).

    python bench/vector/exact.py 1000 5000 10000 20000 40000

Clustered 384-d unit vectors (n/100 Gaussian clusters), 100 queries, CPU time of the process
(time.process_time: Chroma's threads included) ÷ queries, median of 5 rounds (3 of 20 queries
for the filtered columns). Prints one line per size; writes nothing. The figures in
docs/vector.md ("Exact search") came from it.
"""
import sys, time, statistics, numpy as np
from conduit_vector.store import create_vector_db
D=384
rng=np.random.default_rng(0)
def unit(x): return (x/np.linalg.norm(x,axis=1,keepdims=True)).astype(np.float32)
sizes=[int(s) for s in sys.argv[1:]]
def cpu_per_query(f, qs, reps=5):
    f(qs[0])
    out=[]
    for r in range(reps):
        t=time.process_time()
        for q in qs: f(q)
        out.append((time.process_time()-t)/len(qs)*1e3)
    return statistics.median(out)
for n in sizes:
    cent=rng.normal(size=(max(n//100,1),D))
    data=unit(cent[rng.integers(0,len(cent),n)]+rng.normal(size=(n,D)))
    qs=unit(cent[rng.integers(0,len(cent),100)]+rng.normal(size=(100,D)))
    db=create_vector_db(D,"cosine")
    for s in range(0,n,5000):
        db.add_documents([{"id":str(i),"embedding":data[i],"metadata":{"tag":i%10}} for i in range(s,min(n,s+5000))])
    row={}
    for label, kw in (("hnsw", dict(exact=False)), ("exact", dict(exact=True)),
                      ("hnsw ids", dict(exact=False, include=())), ("exact ids", dict(exact=True, include=()))):
        row[label]=cpu_per_query(lambda q: db.search(q,10,**kw), qs)
    fq=qs[:20]
    for label, kw in (("hnsw where", dict(exact=False)), ("exact where", dict(exact=True))):
        row[label]=cpu_per_query(lambda q: db.search(q,10,{"tag":3},**kw), fq, reps=3)
    print(f"n={n:>6}: " + "  ".join(f"{k} {v:.2f}" for k,v in row.items()) + "  (CPU ms/query, median of rounds)", flush=True)
    db.close()
