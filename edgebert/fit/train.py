"""One candidate's training as an independent job (a dict in, a dict out): build the pruned student from the
teacher, resume its checkpoint, distil to the rung's step on the full schedule (TrainConfig.stop_at), checkpoint,
save, score on the held-out rows. Jobs run in this process, in a process pool (--workers N) or as Ray tasks (--ray):
the same function everywhere; results come back as they finish."""
from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from edgebert.errors import MissingRuntime, UsageError

MODEL_DIR = "model"


def _shape(data: dict[str, Any]) -> Any:
    from edgebert.fit.shape import Shape

    return Shape(**{**data, "layer_map": tuple(data["layer_map"])})


def _score(job: dict[str, Any], student: Any, tokenizer: Any, data: Any) -> dict[str, float]:
    """Held-out: the task metric (retention vs the teacher's score), or the mean embedding cosine to the teacher's
    (computed by the parent on the teacher's own tokenization)."""
    import numpy as np

    from edgebert.distill.heldout import metric_eval
    from edgebert.distill.metrics import task_metric
    from edgebert.fit.student import pooled

    max_len = job["train"]["max_len"]
    if data.objective == "task":
        metrics = metric_eval(tokenizer, (data.dev_texts, None), data.dev_labels, data.task, max_len)(student)
        score = metrics[task_metric(data.task)]
        return {"score": score, "retention": score / job["teacher_score"] if job["teacher_score"] else 0.0}
    teacher = np.load(job["teacher_embeddings"])  # (N, H)
    s = pooled(student, tokenizer, data.dev_texts, max_len)
    cos = (s * teacher).sum(1) / (np.linalg.norm(s, axis=1) * np.linalg.norm(teacher, axis=1) + 1e-12)
    return {"score": float(cos.mean()), "retention": float(cos.mean())}


def _train(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    from edgebert.distill.config import TrainConfig
    from edgebert.distill.losses import Recipe
    from edgebert.distill.objectives import EmbeddingKD, TaskKD, layer_pairs
    from edgebert.distill.run import load_teacher, teacher_layers
    from edgebert.distill.train import Examples, Trainer
    from edgebert.fit import data as fit_data
    from edgebert.fit import vocab
    from edgebert.fit.student import id_mapped, trained_student

    torch.set_num_threads(max(1, job["threads"]))
    data = fit_data.read(Path(job["data"]), Path(job["eval_data"]) if job["eval_data"] else None,
                         job.get("label_names"))
    teacher, tokenizer = load_teacher(job["teacher"], data.objective)
    shape = _shape(job["shape"])
    scores = torch.load(job["scores"], weights_only=True) if job.get("scores") else None
    kept = None
    if job.get("vocab_dir") and shape.vocab != teacher.config.vocab_size:
        tokenizer, kept, _ = vocab.load(Path(job["vocab_dir"]))
    torch.manual_seed(job["train"]["seed"])
    student = trained_student(teacher, shape, scores, kept)
    kind = TaskKD if data.objective == "task" else EmbeddingKD
    objective = kind(Recipe(**job["recipe"]), layer_pairs(list(shape.layer_map), teacher_layers(teacher)))
    examples = Examples(tokenizer, data.train_texts, None, data.train_labels)
    cfg = TrainConfig(**{**job["train"], "stop_at": job["stop_at"], "keep_checkpoints": 1})
    workdir = Path(job["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(student, objective, examples, cfg, workdir,
                      teacher=id_mapped(teacher, kept) if kept else teacher)
    resumed = trainer.resume()
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    if trainer.step > resumed:
        trainer.save_checkpoint()
    student.config.architectures = [type(student).__name__]
    student.save_pretrained(workdir / MODEL_DIR, safe_serialization=True)
    tokenizer.save_pretrained(str(workdir / MODEL_DIR))
    return {"key": job["key"], "step": trainer.step, "resumed_from": resumed, "train_s": round(seconds, 2),
            "s_per_step": round(seconds / max(1, trainer.step - resumed), 4), **_score(job, student, tokenizer, data)}


def train_candidate(job: dict[str, Any]) -> dict[str, Any]:
    """Train one candidate to job['stop_at']; a failure comes back as {'key', 'error'} (the search goes on)."""
    try:
        return _train(job)
    except Exception as err:  # noqa: BLE001 - one candidate's failure is recorded, not fatal
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return {"key": job["key"], "error": last[:300]}


def run_jobs(jobs: list[dict[str, Any]], workers: int = 1, ray_address: str | None = None) -> Iterator[dict[str, Any]]:
    """Every job's result, as each finishes: in this process, a spawn process pool, or Ray tasks."""
    if ray_address:
        for result in _ray(jobs, workers, ray_address):
            yield {**result, "ran_on": "ray"}
    elif workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield {**train_candidate(job), "ran_on": "this process"}
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(train_candidate, job) for job in jobs]):
                yield {**future.result(), "ran_on": f"process pool ({workers})"}


_STARTED: list[bool] = []  # this process started the local Ray instance (stop_ray ends it)


def _ray(jobs: list[dict[str, Any]], workers: int, address: str) -> Iterator[dict[str, Any]]:
    """Ray tasks of the same function, `num_cpus` = the job's threads; `local` starts a local instance with
    `workers` x threads CPUs (kept for the next rung, ended by stop_ray), anything else is a running cluster."""
    try:
        import ray
    except ImportError as err:
        raise MissingRuntime("ray", "ray") from err
    if not jobs:
        return
    threads = max(1, jobs[0]["threads"])
    if not ray.is_initialized():
        local = address == "local"
        try:
            ray.init(address=None if local else address, num_cpus=workers * threads if local else None,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise UsageError(f"--ray {address}: could not connect ({err})") from err
        _STARTED.append(True)
    remote = ray.remote(num_cpus=threads)(train_candidate)
    pending = [remote.remote(job) for job in jobs]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def stop_ray() -> None:
    """Shut down the Ray instance this process started, if any."""
    if _STARTED:
        import ray

        ray.shutdown()
        _STARTED.clear()
