import numpy as np
from cs231n_fast import ops, reference
from cs231n_fast.ops import conv as oc
rng=np.random.default_rng(1)
for (n,c,f,h) in [(4,64,64,32),(4,64,128,16),(4,128,128,16),(4,32,64,16)]:
    x=rng.standard_normal((n,c,h,h)); w=rng.standard_normal((f,c,3,3))/np.sqrt(9*c); b=rng.standard_normal(f); d=rng.standard_normal((n,f,h,h))
    ro,rc=reference.conv_forward(x,w,b,1,1); rg=reference.conv_backward(d,rc)
    row=[]
    for algo in ("winograd","gemm"):
        oc._ALGO=algo
        o,cc=ops.conv_forward(*(a.astype(np.float32) for a in (x,w,b)),1,1); g=ops.conv_backward(d.astype(np.float32),cc)
        row.append(algo+" "+" ".join("%s %.1e"%(k,np.abs(a-r).max()/np.abs(r).max()) for k,a,r in zip(("y","dx","dw","db"),(o,)+tuple(g),(ro,)+tuple(rg))))
    print((n,c,f,h)," | ".join(row))
