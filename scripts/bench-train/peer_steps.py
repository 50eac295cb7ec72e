# usage: peer_steps.py THREADS DEPTH STEPS (after one warm-up step)
# The peer's train step (bench_torch.py, --only train) timed step by step: wall, user and system CPU seconds.
import os, sys, time, torch
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'peer'))
import xcos_torch as ref
threads, depth, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads); torch.manual_seed(0)
model = ref.Xcos(stages=ref.STAGES[depth]); model.train()
b = 16
arc = ref.ArcFace(1568, 1000)
model.backbone_target.eval()
opt = torch.optim.SGD(list(model.backbone.parameters()) + list(arc.parameters()), lr=1e-3, momentum=0.9)
opt_a = torch.optim.Adam(model.attention.parameters(), lr=1e-4, amsgrad=True)
x1, x2 = torch.randn(b, 3, 112, 112), torch.randn(b, 3, 112, 112)
y1, y2 = torch.randint(0, 1000, (b,)), torch.randint(0, 1000, (b,))
def step():
    f1, g1 = model.backbone(x1)
    f2, g2 = model.backbone(x2)
    ce = F.cross_entropy(torch.cat((arc(f1, y1), arc(f2, y2))), torch.cat((y1, y2)))
    w = model.attention(g1, g2)
    xc = (ref.grid_cos(g1, g2) * w).flatten(1).sum(1)
    with torch.no_grad():
        t = F.cosine_similarity(model.backbone_target(x1), model.backbone_target(x2), dim=1)
    loss = ce + F.mse_loss(xc, t)
    opt.zero_grad(); opt_a.zero_grad(); loss.backward(); opt.step(); opt_a.step()
step()
for i in range(steps):
    w0, c0 = time.perf_counter(), os.times()
    step()
    c1 = os.times()
    print(f"peer step {i+1}: wall {time.perf_counter()-w0:.3f} cpu {c1.user-c0.user+c1.system-c0.system:.3f} sys {c1.system-c0.system:.3f}", flush=True)
