"""The benchmark's results as text: a table per configuration and a few lines on the system."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_result(r: dict[str, Any]) -> str:
    """A configuration's timings as a small text table."""
    lines = [
        f"H={r['hidden']} batch={r['batch_size']} {r['dtype']} {r['rule']} reg={r['reg']:g} "
        f"D={r['input_dim']}: {r['num_train']} images, {r['steps_per_epoch']} steps/epoch",
        f"  {'':<14}{'ms/step':>9}{'s/epoch':>9}   repeats (ms/step)",
    ]
    implementations = r["torch_implementations"] or {}
    for key, label in (
        ("ours", "ours scripts"),
        ("ours_notebook", "ours notebook"),
        ("matmul_bound", "matmul bound"),
        ("update_stream", "update stream"),
        ("jax", "jax jit"),
        ("torch", "torch"),
        ("torch_fused", "torch " + implementations.get("torch_fused", "fused")),
        ("torch_matmul_bound", "torch bound"),
    ):
        s = r[key]
        if s is None:
            missing = {"jax": "JAX", "update_stream": "numba"}.get(key, "PyTorch")
            lines.append(f"  {label:<14}{'n/a':>9}{'n/a':>9}   {missing} not installed")
            continue
        repeats = " ".join(f"{t:.2f}" for t in s["repeats_ms_per_step"])
        lines.append(f"  {label:<14}{s['ms_per_step']:>9.2f}{s['s_per_epoch']:>9.2f}   {repeats}")

    def ratio(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    limit_ms = r["true_limit_ms"]
    lines.append(
        "  true limit "
        + (
            "n/a (numba not installed)"
            if limit_ms is None
            else f"{limit_ms:.2f} ms/step: the bound + {r['update_bytes'] / 1e6:.1f} MB "
            f"at {r['bandwidth_gb_s']:.1f} GB/s"
        )
    )
    lines.append(
        f"  fraction of the matmul bound: scripts {r['fraction_of_bound']:.2f}, notebook "
        f"{r['fraction_of_bound_notebook']:.2f}; of the true limit: scripts "
        f"{ratio(r['fraction_of_limit'])}, notebook {ratio(r['fraction_of_limit_notebook'])}"
    )
    lines.append(
        f"  ours scripts/jax jit {ratio(r['ratio_ours_to_jax'])}; /torch "
        f"{ratio(r['ratio_ours_to_torch'])}; /torch "
        f"{implementations.get('torch_fused', 'fused')} {ratio(r['ratio_ours_to_torch_fused'])}; "
        f"notebook/scripts {r['ratio_notebook_to_scripts']:.3f}"
    )
    lines.append(f"  {r['update_note']}")
    p = r["predict"]
    torch_ips = p["torch_images_per_s"]
    lines.append(
        f"  predict {p['num_images']} images: ours {p['ours_images_per_s']:,.0f} images/s; torch "
        + ("n/a" if torch_ips is None else f"{torch_ips:,.0f} images/s")
    )
    return "\n".join(lines)


def format_system(s: dict[str, Any]) -> str:
    """Threads, BLAS kernels, OpenBLAS variables, memory and load, in a few lines."""
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} kernel={b.get('architecture')} "
        f"threads={b.get('num_threads')}"
        for b in s["blas"]
        if b.get("user_api") == "blas"
    )
    env = ", ".join(
        f"{k}={'unset' if v is None else repr(v)}" for k, v in s["openblas_env"].items()
    )
    torch = (
        "not installed"
        if s["torch"] is None
        else f"{s['torch']} ({s['torch_threads']} threads, OMP_WAIT_POLICY={s['omp_wait_policy']})"
    )

    def load(avg: Sequence[float] | None) -> str:
        return "n/a" if avg is None else "/".join(f"{x:.2f}" for x in avg)

    rss = "n/a" if s["peak_rss_mib"] is None else f"{s['peak_rss_mib']:.0f} MiB"
    return "\n".join(
        [
            f"threads {s['threads']}; NumPy {s['numpy']} BLAS: {blas or 'unknown'}",
            f"torch {torch}; jax {s['jax'] or 'not installed'}; numba "
            f"{s['numba'] or 'not installed'} ({s['numba_threads']} threads); {env}",
            f"peak RSS {rss} (max over the whole benchmark process); load average "
            f"{load(s['load_average_before'])} before, {load(s['load_average_after'])} after; "
            f"wall time {s['wall_time_s']:.1f} s",
        ]
    )
