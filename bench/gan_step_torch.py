"""PyTorch peer of bench/gan_step.cpp: the same models (docs/reference_models.md),
the same iteration, the same timing (20 warm-up, N timed, min/median/max ms).

    python3 bench/gan_step_torch.py --model dcgan --device cuda --sn 1 --iters 100
With --cuda-graph (CUDA, PyTorch 2.x) the iteration is captured once with
torch.cuda.CUDAGraph (Adam with capturable=True, the noise in fixed tensors filled before
each replay, as PyTorch's documentation of whole-network capture does) and replayed.
"""
import argparse
import time

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def make(model, sn):
    wrap = spectral_norm if sn else (lambda m: m)
    if model == "mlp":
        g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                          nn.Linear(512, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
        d = nn.Sequential(nn.Flatten(), wrap(nn.Linear(784, 512)), nn.LeakyReLU(0.2), wrap(nn.Linear(512, 256)),
                          nn.LeakyReLU(0.2), wrap(nn.Linear(256, 1)))
        return g, d
    g = nn.Sequential(nn.Linear(100, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(wrap(nn.Conv2d(1, 64, 4, 2, 1)), nn.LeakyReLU(0.2), wrap(nn.Conv2d(64, 128, 4, 2, 1)),
                      nn.LeakyReLU(0.2), nn.Flatten(), wrap(nn.Linear(128 * 7 * 7, 1)))
    return g, d


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="dcgan", choices=["dcgan", "mlp"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--sn", type=int, default=1)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--cuda-graph", action="store_true", help="capture the iteration as one CUDA graph")
    p.add_argument("--g-backward", default="full", choices=["full", "generator"],
                   help="the G step's backward: full (loss_g.backward()) or generator "
                        "(loss_g.backward(inputs=G's parameters): no weight gradients for D)")
    p.add_argument("--profile", action="store_true",
                   help="after timing, profile 10 iterations and print the ops by self CPU time, per input shape")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default); "
                   "OpenBLAS's own count comes from OPENBLAS_NUM_THREADS")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    # Plain float32 arithmetic on a GPU, as sigmagrad's cuBLAS calls and kernels do:
    # PyTorch would otherwise run its cuDNN convolutions in TF32 (10-bit mantissas).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    g, d = make(a.model, a.sn)
    g, d = g.to(dev), d.to(dev)
    extra = {"capturable": True} if a.cuda_graph else {}
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), **extra)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), **extra)
    real = torch.rand(a.batch, 1, 28, 28, device=dev) * 2 - 1
    z_d = torch.zeros(a.batch, 100, device=dev)
    z_g = torch.zeros(a.batch, 100, device=dev)

    g_params = list(g.parameters())

    def device_work():
        with torch.no_grad():
            fake = g(z_d)
        loss_d = torch.relu(1 - d(real)).mean() + torch.relu(1 + d(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = -d(g(z_g)).mean()
        opt_g.zero_grad()
        if a.g_backward == "generator":
            loss_g.backward(inputs=g_params)
        else:
            loss_g.backward()
        opt_g.step()
        return loss_g

    graph, graph_loss = None, None
    if a.cuda_graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream before capture
            for _ in range(3):
                z_d.normal_()
                z_g.normal_()
                device_work()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt_d.zero_grad(set_to_none=True)
        opt_g.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            graph_loss = device_work()

    def iteration():
        z_d.copy_(torch.randn(a.batch, 100, device=dev))
        z_g.copy_(torch.randn(a.batch, 100, device=dev))
        if graph is not None:
            graph.replay()
            return graph_loss.item()
        return device_work().item()  # waits for the device

    for _ in range(a.warmup):
        iteration()
    ms = []
    for _ in range(a.iters):
        start = time.perf_counter()
        iteration()
        ms.append((time.perf_counter() - start) * 1000)
    ms.sort()
    print(f"pytorch {torch.__version__} {a.model} sn={a.sn} device={a.device}"
          f"{' cuda-graph' if a.cuda_graph else ''}"
          f"{' g-backward=generator' if a.g_backward == 'generator' else ''} batch={a.batch} "
          f"threads={torch.get_num_threads()}: "
          f"min {ms[0]:.3f} median {ms[len(ms) // 2]:.3f} max {ms[-1]:.3f} ms/iteration ({a.iters} timed)")
    if a.profile:  # where PyTorch's time goes (bench/README.md quotes its convolutions)
        with torch.profiler.profile(record_shapes=True) as prof:
            for _ in range(10):
                iteration()
        print("per 10 iterations:")
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=12,
                                                                 max_name_column_width=32, max_shapes_column_width=60))


if __name__ == "__main__":
    main()
