"""Per-op forward / backward / forward+backward times of ops.activations at (64, 64, 32, 32) float32
against torch autograd, best of 40 calls each:

    PYTHONPATH=src python benchmarks/activations_micro.py <threads>
"""
import time, sys, numpy as np, torch
import torch.nn.functional as TF
from cs231n_fast.ops import activations as F
nt=int(sys.argv[1]); torch.set_num_threads(nt)
x=np.random.default_rng(0).standard_normal((64,64,32,32)).astype(np.float32); d=np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
alpha=np.full(64,0.25,np.float32)
def best(f, n=40):
    f(); b=1e9
    for _ in range(n):
        t=time.perf_counter(); f(); b=min(b,time.perf_counter()-t)
    return b*1e3
tx=torch.from_numpy(x).requires_grad_(); td=torch.from_numpy(d); ta=torch.from_numpy(alpha).requires_grad_()
def tor(f):
    def r():
        tx.grad=None; ta.grad=None; f(tx).backward(td)
    return r
for name,args,tf in [('relu',(),torch.relu),('leaky_relu',(0.01,),lambda t: TF.leaky_relu(t,0.01)),('prelu',(alpha,),lambda t: TF.prelu(t,ta)),('elu',(1.0,),TF.elu),('sigmoid',(),torch.sigmoid),('tanh',(),torch.tanh),('dropout',(0.5,'train',3),lambda t: TF.dropout(t,0.5,True))]:
    fw=getattr(F,name+'_forward'); bw=getattr(F,name+'_backward')
    o,c=fw(x,*args,n_threads=nt)
    a=best(lambda: fw(x,*args,n_threads=nt)); b=best(lambda: bw(d,c,n_threads=nt))
    def both():
        o,c=fw(x,*args,n_threads=nt); bw(d,c,n_threads=nt)
    ab=best(both); t=best(tor(tf))
    print(f"{name:12s} fwd {a:6.2f} bwd {b:6.2f} both {ab:6.2f} torch {t:6.2f} ratio {ab/t:.2f}", flush=True)
