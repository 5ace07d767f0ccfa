#!/usr/bin/python3
"""PyTorch reference of GReFEL's trainable part, for the speed comparison of bench/run.ts.

Mirrors lib/model (grefel.ts, layers.ts, reliability.ts, losses.ts) layer by layer for a resolved
`model` config section (JSON, as `presetConfig(name).model` prints it): optional input convs,
LayerNorm of both streams, window cross-attention with a learned relative-position bias (eqs. 1-3),
residual onto the pre-norm image map (eq. 4), MLP (eq. 5), per-scale embedding convs to the token
grid, fusion ViT with cls token + position embedding (eqs. 6-8, pre-norm blocks, optional SE gate),
e = LN(cls); head [Linear -> ReLU -> Dropout -> BatchNorm1d] x n -> Linear -> softmax (eq. 9);
anchors + softmax over all C*K anchors (eqs. 13-15); per-sample MHSA over T tokens of e + W_out
(eqs. 16-17); confidence mixes (eqs. 18-19, same guard); L_cls with log clamp, L_a (paper or
bounded), L_c, label smoothing (eqs. 20-23); Adam (lr 3e-4). GELU uses the tanh approximation and
attention is written out as matmuls, as in lib/model, so both sides do the same arithmetic.

Usage (prints one JSON line):
  /usr/bin/python3 bench/torch_grefel.py --config CFG.json --expect-params N --batch 64 \
      --threads 1 [--warmup 2] [--steps 10] [--max-seconds 60]

  /usr/bin/python3 bench/torch_grefel.py --config CFG.json --expect-params N --batch 64 \
      --threads 1 --warmup 2 --serve

It fails (exit 1) if its trainable parameter count differs from --expect-params
(`summarizeModel(cfg).trainableParams` on the TypeScript side).

--serve: a long-lived step server for bench/ab_torch.ts (protocol: bench/step_protocol.ts). It
builds the model once, runs the warm-up steps, prints {"ready": {...}} (torch version, threads,
the BLAS and allocator actually mapped into the process), then answers each stdin line
{"steps": k} with {"wall": [...], "cpu": [...]} for k steps; it exits when stdin closes.

Threads: torch.set_num_threads(--threads). Debian's torch calls BLAS through libblas.so.3 (the
alternative in use: OpenBLAS when libopenblas0-pthread is installed), whose own thread pool follows
OPENBLAS_NUM_THREADS, so the caller sets that and OMP_NUM_THREADS to --threads as well.
"""
import argparse
import json
import math
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def gelu(x):
    return F.gelu(x, approximate="tanh")


def layer_norm(dim):
    return nn.LayerNorm(dim, eps=1e-5)


def attention(q, k, v, heads, bias=None):
    """q [N, Mq, H*d], k, v [N, Mk, H*d] -> [N, Mq, H*d]; bias [H, Mq, Mk] (eq. 2)."""
    n, mq, width = q.shape
    mk = k.shape[1]
    d = width // heads
    qh = q.reshape(n, mq, heads, d).transpose(1, 2)
    kh = k.reshape(n, mk, heads, d).transpose(1, 2)
    vh = v.reshape(n, mk, heads, d).transpose(1, 2)
    logits = torch.matmul(qh, kh.transpose(-1, -2)) / math.sqrt(d)  # [N, H, Mq, Mk]
    if bias is not None:
        logits = logits + bias
    att = torch.softmax(logits, dim=-1)
    return torch.matmul(att, vh).transpose(1, 2).reshape(n, mq, width)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        return self.wo(attention(self.wq(x), self.wk(x), self.wv(x), self.heads))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


def conv(in_ch, out_ch, kernel, stride):
    return nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2)


def nhwc_conv(c, x):
    """Applies an NCHW conv to an NHWC map."""
    return c(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def relative_index(w):
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]  # [2, w*w, w*w], query minus key
    return (rel[0] + w - 1) * (2 * w - 1) + (rel[1] + w - 1)


def window_partition(x, w):
    b, s, _, c = x.shape
    n = s // w
    x = x.reshape(b, n, w, n, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * n * n, w * w, c)


def window_reverse(x, w, s):
    c = x.shape[2]
    n = s // w
    b = x.shape[0] // (n * n)
    x = x.reshape(b, n, n, w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, s, s, c)


class CrossScale(nn.Module):
    """One scale of window cross-attention (eqs. 1-5)."""

    def __init__(self, cfg, i):
        super().__init__()
        ca = cfg["crossAttention"]
        l_side, l_ch = cfg["landmarkShape"][i]
        i_side, i_ch = cfg["imageShape"][i]
        lc, ic = cfg["landmarkConv"][i], cfg["imageConv"][i]
        self.lm_conv = conv(l_ch, lc["channels"], lc["kernel"], lc["stride"]) if lc else None
        self.img_conv = conv(i_ch, ic["channels"], ic["kernel"], ic["stride"]) if ic else None
        cl = lc["channels"] if lc else l_ch
        ci = ic["channels"] if ic else i_ch
        self.side = math.ceil(i_side / ic["stride"]) if ic else i_side
        self.heads = ca["heads"][i]
        attn = self.heads * ca["headDim"]
        self.window = ca["windowSize"][i] or self.side
        self.lm_norm, self.img_norm = layer_norm(cl), layer_norm(ci)
        self.wq, self.wk, self.wv = nn.Linear(cl, attn), nn.Linear(ci, attn), nn.Linear(ci, attn)
        w = self.window
        self.rel_bias = nn.Parameter(torch.randn((2 * w - 1) ** 2, self.heads) * 0.02)
        self.register_buffer("rel_index", relative_index(w), persistent=False)
        self.wo = nn.Linear(attn, ci)
        self.mlp_norm = layer_norm(ci)
        self.mlp = Mlp(ci, round(ci * ca["mlpRatio"]))
        self.out_channels = ci

    def forward(self, xl, xi):
        if self.lm_conv is not None:
            xl = nhwc_conv(self.lm_conv, xl)
        if self.img_conv is not None:
            xi = nhwc_conv(self.img_conv, xi)
        zl = window_partition(self.lm_norm(xl), self.window)
        zi = window_partition(self.img_norm(xi), self.window)
        bias = self.rel_bias[self.rel_index.reshape(-1)].reshape(
            self.window**2, self.window**2, self.heads
        ).permute(2, 0, 1)  # [H, M, M]
        o = self.wo(attention(self.wq(zl), self.wk(zi), self.wv(zi), self.heads, bias))
        x1 = window_reverse(o, self.window, self.side) + xi  # eq. 4
        return self.mlp(self.mlp_norm(x1)) + x1  # eq. 5


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))  # eq. 7
        return x + self.mlp(self.norm2(x))  # eq. 8


def entropy_conf(p, eps):
    h = -(p * torch.log(p + eps)).sum(1) / math.log(p.shape[1])
    return 1 - h.clamp(0, 1)


def confidence_mix(p1, p2, eps, guard=1e-6):
    c1 = (entropy_conf(p1, eps) + guard / 2)[:, None]
    c2 = (entropy_conf(p2, eps) + guard / 2)[:, None]
    return (c1 * p1 + c2 * p2) / (c1 + c2)


class Grefel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = cfg["embedDim"]
        ts = round(math.sqrt(cfg["tokens"]))
        self.scales = nn.ModuleList(CrossScale(cfg, i) for i in range(3))
        self.embed = nn.ModuleList()
        for s in self.scales:
            ratio = s.side // ts
            downs = round(math.log2(ratio))
            layers, ch = [], s.out_channels
            for _ in range(max(downs, 1)):
                stride = 1 if downs == 0 else 2
                layers.append(conv(ch, d, 1 if stride == 1 else 3, stride))
                ch = d
            self.embed.append(nn.ModuleList(layers))
        seq = 3 * cfg["tokens"] + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, seq, d))
        fu = cfg["fusion"]
        self.blocks = nn.ModuleList(
            Block(d, fu["heads"], round(d * fu["mlpRatio"])) for _ in range(fu["depth"])
        )
        self.norm = layer_norm(d)
        self.se = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d)) if fu["seBlock"] else None
        hd = cfg["head"]
        layers, w = [], d
        for h in hd["hidden"]:
            layers += [
                nn.Linear(w, h),
                nn.ReLU(),
                nn.Dropout(hd["dropout"]),
                nn.BatchNorm1d(h, eps=hd["bnEpsilon"], momentum=hd["bnMomentum"]),
            ]
            w = h
        layers.append(nn.Linear(w, cfg["classes"]))
        self.head = nn.Sequential(*layers)
        rb = cfg["rb"]
        self.anchors_on = rb["anchors"] and rb["anchorsPerClass"] > 0
        if self.anchors_on:
            self.anchors = nn.Parameter(torch.randn(cfg["classes"], rb["anchorsPerClass"], d))
        self.attentive = rb["attentive"]
        if self.attentive:
            self.rb_tokens = rb["attentionTokens"]
            self.rb_attn = SelfAttention(d // self.rb_tokens, rb["attentionHeads"])
            self.rb_out = nn.Linear(d, cfg["classes"])

    def embedding(self, landmark, image):
        b = landmark[0].shape[0]
        d = self.cfg["embedDim"]
        tokens = []
        for s, emb, xl, xi in zip(self.scales, self.embed, landmark, image):
            t = s(xl, xi)
            for c in emb:
                t = nhwc_conv(c, t)
            tokens.append(t.reshape(b, -1, d))
        x = torch.cat([self.cls_token.expand(b, 1, d), *tokens], 1) + self.pos_embed  # eq. 6
        for blk in self.blocks:
            x = blk(x)
        e = self.norm(x[:, 0])
        if self.se is not None:
            e = e * torch.sigmoid(self.se(e))
        return e

    def forward(self, landmark, image):
        eps = self.cfg["rb"]["entropyEpsilon"]
        e = self.embedding(landmark, image)
        primary = torch.softmax(self.head(e), 1)
        geometric = attentive = None
        if self.anchors_on:
            c, k, d = self.anchors.shape
            dist = torch.sqrt(((e[:, None, :] - self.anchors.reshape(1, c * k, d)) ** 2).sum(2) + 1e-12)
            s = torch.softmax(-dist / self.cfg["rb"]["delta"], 1)
            geometric = s.reshape(-1, c, k).sum(2)
        if self.attentive:
            b, d = e.shape
            o = self.rb_attn(e.reshape(b, self.rb_tokens, d // self.rb_tokens)).reshape(b, d)
            attentive = torch.softmax(self.rb_out(o), 1)
        if geometric is not None and attentive is not None:
            corr = confidence_mix(geometric, attentive, eps)
        else:
            corr = geometric if geometric is not None else attentive
        final = confidence_mix(primary, corr, eps) if corr is not None else primary
        return e, final

    def loss(self, e, final, target):
        lc = self.cfg["loss"]
        cls = -(target * torch.log(final.clamp(lc["logClamp"], 1))).sum(1).mean()
        zero = torch.zeros(())
        anchor = center = zero
        if self.anchors_on:
            c, k, d = self.anchors.shape
            a = self.anchors.reshape(c * k, d)
            n = (a * a).sum(1)
            d2 = F.relu(n[:, None] + n[None, :] - 2 * a @ a.t()) / d
            if lc["anchorLossVariant"] == "bounded":
                d2 = d2.clamp(max=lc["anchorMargin"])
            cls_of = torch.arange(c * k) // k
            mask = (cls_of[:, None] != cls_of[None, :]).float()
            anchor = -(d2 * mask).sum() / mask.sum() if lc["anchor"] > 0 else zero
            if lc["center"] > 0:
                sq = ((e[:, None, :] - a[None]) ** 2).sum(2).reshape(-1, c, k)
                own = sq[torch.arange(e.shape[0]), target.argmax(1)]  # [B, K]
                center = own.min(1).values.mean() / d
        total = lc["cls"] * cls + lc["anchor"] * anchor + lc["center"] * center
        return total, cls, anchor, center


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def smooth_labels(labels, classes, s):
    eps = s / 100
    y = torch.full((len(labels), classes), eps / classes)
    y[torch.arange(len(labels)), labels] += 1 - eps
    return y


def mapped_libraries():
    """Paths of the shared libraries mapped into this process (Linux /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if "/" in line and ".so" in line})
    except OSError:
        return []


def runtime_info():
    """What this process actually runs with: BLAS libraries, allocator, thread settings."""
    libs = mapped_libraries()
    config = torch.__config__.show()
    build_blas = re.search(r"BLAS_INFO=(\w+)", config)
    return {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "interopThreads": torch.get_num_interop_threads(),
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OMP_WAIT_POLICY",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "LD_PRELOAD",
            )
        },
        "tcmalloc": any("libtcmalloc" in p for p in libs),
        "blasLibraries": sorted(
            {os.path.realpath(p) for p in libs if "blas" in os.path.basename(p).lower()}
        ),
        "blasBuild": build_blas.group(1) if build_blas else None,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "parallelInfo": torch.__config__.parallel_info().strip().split("\n"),
    }


def serve(step, info):
    """Answers {"steps": k} lines on stdin with per-step wall and CPU seconds until EOF."""
    print(json.dumps({"ready": info}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            k = json.loads(line).get("steps")
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ValueError(f"expected {{\"steps\": k}} with k >= 1, got {line.strip()}")
            wall, cpu = [], []
            for _ in range(k):
                t, c = time.perf_counter(), time.process_time()
                step()
                wall.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            reply = {"wall": wall, "cpu": cpu}
        except Exception as e:  # noqa: BLE001 - any failure is answered, the server keeps going
            reply = {"error": str(e)}
        print(json.dumps(reply), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON file with the resolved model section")
    ap.add_argument("--expect-params", type=int, required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--mode", choices=["train", "infer"], default="train")
    ap.add_argument("--serve", action="store_true", help="step server on stdin/stdout")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    with open(args.config) as f:
        cfg = json.load(f)
    model = Grefel(cfg)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if n_params != args.expect_params:
        print(
            f"parameter count {n_params} != expected {args.expect_params} (summarizeModel)",
            file=sys.stderr,
        )
        sys.exit(1)
    b = args.batch
    landmark = [torch.rand(b, s, s, c) for s, c in cfg["landmarkShape"]]
    image = [torch.rand(b, s, s, c) for s, c in cfg["imageShape"]]
    labels = torch.arange(b) % cfg["classes"]
    target = smooth_labels(labels, cfg["classes"], cfg["loss"]["labelSmoothing"])
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        e, final = model(landmark, image)
        total, cls, anchor, center = model.loss(e, final, target)
        hits = (final.argmax(1) == labels).float().sum()
        stats = torch.stack([total, cls, anchor, center, hits]).detach()
        total.backward()
        stats.tolist()  # the trainer reads its five scalars back every step
        opt.step()

    def infer_step():
        model.eval()
        with torch.no_grad():
            model(landmark, image)[1].sum().item()

    step = train_step if args.mode == "train" else infer_step
    if args.serve:
        for _ in range(args.warmup):
            step()
        info = runtime_info()
        info.update(kind="torch", pid=os.getpid(), mode=args.mode, batch=b, warmup=args.warmup)
        info.update(trainableParams=n_params, peakRssBytes=peak_rss())
        serve(step, info)
        return
    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    for _ in range(max(0, args.warmup - 1)):
        step()
    secs = []
    cpu_secs = []  # CPU time of this process per step (all its threads): robust to other load
    start = time.perf_counter()
    capped = False
    for i in range(args.steps):
        t = time.perf_counter()
        c = time.process_time()
        step()
        secs.append(time.perf_counter() - t)
        cpu_secs.append(time.process_time() - c)
        if time.perf_counter() - start > args.max_seconds and i + 1 < args.steps:
            capped = True
            break
    med = statistics.median(secs)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "python": sys.version.split()[0],
                "threads": torch.get_num_threads(),
                "mode": args.mode,
                "batch": b,
                "trainableParams": n_params,
                "seconds": secs,
                "medianSeconds": med,
                "cpuSeconds": cpu_secs,
                "imagesPerSecond": b / med,
                "firstIterationSeconds": first,
                "capped": capped,
                "peakRssBytes": peak_rss(),
                **{k: v for k, v in runtime_info().items() if k not in ("torch", "python", "threads")},
            }
        )
    )


if __name__ == "__main__":
    main()
