"""Per-call cost of the affine layers at tiny shapes (the arithmetic negligible): validation,
dispatch, allocation. thread_time over 20000 calls, best of 5. SRC=<path to src> to compare trees:

    PYTHONPATH=src python benchmarks/overhead_linear.py
"""
import os, sys, time
import numpy as np
sys.path.insert(0, os.environ.get("SRC", "/work/wt/models/src"))
from cs231n_fast import layers, layer_utils as LU, rnn_layers

x=np.ones((2,3),np.float32); w=np.ones((3,4),np.float32); b=np.ones(4,np.float32); g=np.ones((2,4),np.float32)
x3=np.ones((2,2,3),np.float32); g3=np.ones((2,2,4),np.float32)
o,c=layers.affine_forward(x,w,b); o2,c2=LU.affine_relu_forward(x,w,b); o3,c3=rnn_layers.temporal_affine_forward(x3,w,b)
def m(f, n=20000):
    best=1e9
    for _ in range(5):
        s=time.thread_time()
        for _ in range(n): f()
        best=min(best,(time.thread_time()-s)/n)
    return best*1e6
cases = {
 "numpy x@w+b": lambda: x@w+b,
 "numpy dx,dw,db": lambda: (g@w.T, x.T@g, g.sum(0)),
 "layers.affine_forward": lambda: layers.affine_forward(x,w,b),
 "layers.affine_backward": lambda: layers.affine_backward(g,c),
 "layer_utils.affine_relu_forward": lambda: LU.affine_relu_forward(x,w,b),
 "layer_utils.affine_relu_backward": lambda: LU.affine_relu_backward(g,c2),
**({"layers._affine_backward(no dx, l2)": lambda: layers._affine_backward(g,c,False,1e-3)} if hasattr(layers, "_affine_backward") else {}),
 "rnn_layers.temporal_affine_forward": lambda: rnn_layers.temporal_affine_forward(x3,w,b),
 "rnn_layers.temporal_affine_backward": lambda: rnn_layers.temporal_affine_backward(g3,c3),
}
for k,f in cases.items(): print(f"{m(f):7.2f} us  {k}")
