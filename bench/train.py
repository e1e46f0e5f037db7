#!/usr/bin/env python3
"""Training benchmark: `harness train` against a plain TRL script, and padding-free packing
against padding, side by side in one run.

1. **harness vs TRL.** The same rows (conversations), model, masks (the same training chat
   template, assistant-only loss), LoRA and SFTConfig settings, trained for the same steps by
   `harness.train.train` (the library call `harness train` makes: lock, reading and checking
   the rows, log callback, checkpoints, outputs) and by a plain TRL script (`SFTTrainer` on a
   `datasets.Dataset` of the same rows). Both sides get the same SFTConfig (`sft_config`), so
   the same save settings: one checkpoint, at the last step, inside train_runtime on both. Each
   run is a fresh subprocess, the two alternate (`--repeats` pairs): the tokens/s ratio is the
   median of the pairs' ratios (the two runs of a pair are adjacent, so they share the
   machine's load), with every pair's ratio beside it. Also: training tokens/s (trained-over
   tokens / the Trainer's train_runtime), the whole call's wall time without the model load
   (both save the adapter and the tokenizer; the harness also the loss PNG and the manifest), peak RSS (CPU,
   the run's own `ru_maxrss`) or peak GPU memory. The harness may cost at most 3 %.
2. **Packing vs padding** on a seed-002-like length distribution (half the rows summary-only
   length, half summary-prefix length ≈ twice as long): TRL's padding-free packing (`bfd`)
   against padding to the longest row of the batch; tokens/s counts real tokens only. And the
   loss per token of the same rows computed both ways on one batch (must be identical up to
   float rounding).

    .venv/bin/python bench/train.py --quick          # CPU, a few steps (minutes)
    .venv/bin/python bench/train.py                  # CPU, the figures in docs/benchmarks.md
    .venv/bin/python bench/train.py --no-packing     # CPU, harness vs TRL only
    python bench/train.py --gpu --out gpu.json       # on a GPU machine: bf16, bigger batches

A benchmark, not a test: it exits 0 whatever the figures, 1 only when a run crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORDS = [
    "search",
    "result",
    "document",
    "title",
    "content",
    "question",
    "answer",
    "reasoning",
    "step",
    "summary",
    "fact",
    "river",
    "city",
    "founder",
    "year",
    "museum",
    "bridge",
    "author",
    "book",
    "library",
]


def conversation_rows(n: int, words: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    text = lambda k: " ".join(rng.choice(WORDS) for _ in range(k))  # noqa: E731
    return [{"messages": [{"role": "system", "content": "Answer from the documents."},
                          {"role": "user", "content": text(words)},
                          {"role": "assistant", "content": text(max(4, words // 3))}]} for _ in range(n)]


def seed002_rows(n: int, long_words: int, seed: int) -> list[dict]:
    """Prompt-completion rows: half summary-only (≈ half as long), half summary-prefix."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = long_words if i % 2 else long_words // 2
        k = int(k * rng.uniform(0.7, 1.3))
        rows.append({"prompt": [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(k))}],
                     "completion": [{"role": "assistant",
                                     "content": " ".join(rng.choice(WORDS) for _ in range(k // 4 + 4))}]})
    return rows


# -- one run, in its own process ---------------------------------------------------------------


def _settings(args: dict) -> dict:
    return dict(max_steps=args["steps"], batch_size=args["batch_size"], gradient_accumulation_steps=1,
                learning_rate=1e-4, lora_r=16, lora_alpha=32, lora_dropout=0.05, val_ratio=0.0,
                max_length=args["max_length"], seed=0, save_steps=10_000, logging_steps=1,
                packing=args.get("packing", False), precision="bf16" if args["gpu"] else "fp32")


def _peak_gpu() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def worker(args: dict) -> dict:
    """Runs one measurement; prints its figures as JSON."""
    import torch

    from harness.train import TrainConfig, train
    from harness.train.loading import load_model, load_tokenizer

    if args.get("threads"):
        torch.set_num_threads(args["threads"])
    model = load_model(args["model"])
    if args["gpu"]:
        model = model.to("cuda")
    tokenizer = load_tokenizer(args["model"])
    out = Path(args["dir"])
    config = TrainConfig(**_settings(args))
    start = time.perf_counter()
    if args["mode"] == "harness":
        train([args["data"]], out, config, tokenizer=tokenizer, base_model=model, progress=False)
        from harness.train.log import read_log

        log = read_log(out / "log.jsonl")
    else:
        log = _plain_trl(args, config, model, tokenizer, out)
    wall = time.perf_counter() - start
    losses = [e["loss"] for e in log if "loss" in e]
    runtime = next(e["train_runtime"] for e in log if "train_runtime" in e)
    tokens = max(e.get("num_tokens", 0) for e in log)
    return {"tokens": tokens, "train_runtime": runtime, "tokens_per_s": tokens / runtime, "wall_s": wall,
            "first_loss": losses[0], "last_loss": losses[-1], "peak_gpu_mib": _peak_gpu(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch_threads": torch.get_num_threads()}


def _plain_trl(args: dict, config, model, tokenizer, out: Path) -> list[dict]:
    """What a user would write with TRL alone, with the same settings and the same masks."""
    import datasets
    from peft import LoraConfig
    from trl import SFTTrainer

    from harness.train.sft import sft_config
    from harness.train.templates import training_chat_template

    rows = [json.loads(line) for line in Path(args["data"]).read_text(encoding="utf-8").splitlines()]
    tokenizer.chat_template = training_chat_template(tokenizer)
    kind = "messages" if "messages" in rows[0] else "prompt-completion"
    sft_args = sft_config(config, out / "checkpoints", kind=kind, has_eval=False,
                          precision="bf16" if args["gpu"] else "fp32", progress=False)
    trainer = SFTTrainer(model=model, args=sft_args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer,
                         peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                                bias="none", task_type="CAUSAL_LM"))
    trainer.train()
    trainer.save_model(str(out / "adapter"))
    return trainer.state.log_history


def run_worker(args: dict) -> dict:
    """A fresh interpreter per run, so the peak RSS it reports is the run's own."""
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(args)], capture_output=True,
                          text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{args['mode']} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def loss_per_token_both_ways(model_name: str, rows: list[dict], gpu: bool) -> tuple[float, float]:
    """The loss per trained token of the same rows, padded and padding-free, one forward pass each."""
    import torch
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from harness.formats.masks import chat_masks
    from harness.train.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer(model_name)
    model = load_model(model_name).eval()
    device = "cuda" if gpu else "cpu"
    model = model.to(device)
    examples = []
    for row in rows:
        m = chat_masks(tokenizer, row["prompt"] + row["completion"], train_on="completion", prompt_messages=1)
        examples.append({"input_ids": m["input_ids"], "labels": m["labels"]})
    out = []
    for padding_free in (False, True):
        batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id or 0,
                                                padding_free=padding_free)(examples)
        inputs = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids")}
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=gpu):
            logits = model(**inputs, use_cache=False).logits.float()  # a cache hides the packing
        labels = batch["labels"].to(device)
        shift_logits, shift_labels = logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
        loss = torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum")
        out.append(float(loss) / int((shift_labels != -100).sum()))
    return out[0], out[1]


# -- the comparison ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="Fewer steps and rows.")
    parser.add_argument("--gpu", action="store_true", help="On a GPU: bf16, bigger batches and sequences.")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--repeats", type=int, default=None, help="Pairs of runs (default 3; 1 with --quick).")
    parser.add_argument("--no-packing", action="store_true",
                        help="Measure harness vs TRL only (skip packing vs padding).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads in every run (default: torch's own choice, one per core). One "
                             "thread on a 2-core machine leaves a core to everything else: steadier figures.")
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    if args.gpu:
        steps, batch, length, words, n = 30, 16, 2048, 600, 512
    elif args.quick:
        steps, batch, length, words, n = 3, 2, 128, 30, 16
    else:
        steps, batch, length, words, n = 10, 4, 256, 60, 64
    repeats = args.repeats or (1 if args.quick else 3)
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}",
                     "gpu": args.gpu, "model": args.model, "threads": args.threads,
                     "steps": steps, "batch_size": batch, "max_length": length,
                     "load_average_before": _load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "conversations.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in conversation_rows(n, words, 0)), encoding="utf-8")
        base = {"model": args.model, "gpu": args.gpu, "steps": steps, "batch_size": batch, "max_length": length,
                "threads": args.threads}
        runs: dict[str, list[dict]] = {"harness": [], "trl": []}
        for r in range(repeats):
            for mode in ("harness", "trl") if r % 2 == 0 else ("trl", "harness"):
                runs[mode].append(run_worker({**base, "mode": mode, "data": str(data), "dir": str(tmp / f"{mode}{r}")}))
                print(f"  {mode} run {r + 1}: {runs[mode][-1]['tokens_per_s']:.1f} tokens/s", file=sys.stderr)
        med = {mode: {k: statistics.median(x[k] for x in rs) for k in ("tokens_per_s", "wall_s")}
               for mode, rs in runs.items()}
        pair_ratios = [h["tokens_per_s"] / t["tokens_per_s"] for h, t in zip(runs["harness"], runs["trl"])]
        figures["harness_vs_trl"] = {
            "runs": runs, "median": med, "pair_ratios": pair_ratios,
            "throughput_ratio": statistics.median(pair_ratios),
            "geometric_mean_ratio": statistics.geometric_mean(pair_ratios),
            "mean_ratio": statistics.mean(x["tokens_per_s"] for x in runs["harness"])
            / statistics.mean(x["tokens_per_s"] for x in runs["trl"]),
            "wall_ratio": med["harness"]["wall_s"] / med["trl"]["wall_s"],
            "same_losses": all(a["last_loss"] == b["last_loss"] for a, b in zip(runs["harness"], runs["trl"])),
        }
        if not args.no_packing:
            figures["packing_vs_padding"] = _packing_vs_padding(args, base, tmp, n, words, length, repeats)
    figures["load_average_after"] = _load_average()
    hv = figures["harness_vs_trl"]
    lines = [
        "| comparison | figure |", "|---|---|",
        f"| harness / TRL training tokens/s (median of pairs) | {hv['throughput_ratio']:.3f} "
        f"(pairs: {', '.join(f'{r:.3f}' for r in hv['pair_ratios'])}) |",
        f"| harness / TRL, geometric mean of the pairs | {hv['geometric_mean_ratio']:.3f} |",
        f"| harness / TRL mean tokens/s over all runs | {hv['mean_ratio']:.3f} |",
        f"| harness, TRL median tokens/s | {hv['median']['harness']['tokens_per_s']:.1f}, "
        f"{hv['median']['trl']['tokens_per_s']:.1f} |",
        f"| harness / TRL wall time (without model load) | {hv['wall_ratio']:.3f} |",
        f"| harness peak RSS / TRL peak RSS (MiB) | {hv['runs']['harness'][-1]['peak_rss_mib']:.0f} / "
        f"{hv['runs']['trl'][-1]['peak_rss_mib']:.0f} |",
        f"| same final loss | {hv['same_losses']} |",
    ]
    if "packing_vs_padding" in figures:
        pp = figures["packing_vs_padding"]
        lines += [f"| packing / padding tokens/s | {pp['throughput_ratio']:.3f} |",
                  f"| loss per token padded / padding-free | {pp['loss_per_token']['padded']:.6f} / "
                  f"{pp['loss_per_token']['padding_free']:.6f} |"]
    lines.append(f"| load average before, after | {figures['load_average_before']}, {figures['load_average_after']} |")
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


def _load_average() -> str:
    """The 1, 5 and 15-minute load averages (the machine's load beside every figure)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _packing_vs_padding(args: argparse.Namespace, base: dict, tmp: Path, n: int, words: int, length: int,
                        repeats: int) -> dict:
    """Packing vs padding on seed-002-like lengths, and the loss per token computed both ways."""
    rows = seed002_rows(n, words * 2, 1)
    data2 = tmp / "seed002_like.jsonl"
    data2.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    packed: dict[str, list[dict]] = {"padding": [], "packing": []}
    for r in range(repeats):
        for mode in ("padding", "packing") if r % 2 == 0 else ("packing", "padding"):
            packed[mode].append(
                run_worker(
                    {
                        **base,
                        "mode": "harness",
                        "data": str(data2),
                        "packing": mode == "packing",
                        "max_length": length * 2,
                        "dir": str(tmp / f"{mode}{r}"),
                    }
                )
            )
            print(f"  {mode} run {r + 1}: {packed[mode][-1]['tokens_per_s']:.1f} tokens/s", file=sys.stderr)
    pad_loss, free_loss = loss_per_token_both_ways(args.model, rows[:8], args.gpu)
    med2 = {mode: statistics.median(x["tokens_per_s"] for x in rs) for mode, rs in packed.items()}
    return {"runs": packed, "median_tokens_per_s": med2, "throughput_ratio": med2["packing"] / med2["padding"],
            "loss_per_token": {"padded": pad_loss, "padding_free": free_loss}}


if __name__ == "__main__":
    sys.exit(main())
