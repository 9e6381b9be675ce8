"""Run an SFT stage: TRL's SFTTrainer on the stage's train examples (the cold start, SFT
from the base on the mix, distillation into a student)."""

from __future__ import annotations

from r1domain.stage_params import SFTParams
from r1web.runs.models import Stage, StageInput
from r1web.runs.services import checkpoint_record
from workers.inputs import model_path, output_dir, records, stage_examples, stage_sink
from workers.recording import is_main_process, retrying, write_retrying


def run_sft_stage(stage: Stage, params: SFTParams) -> dict:
    from workers.stages.sft import run_sft

    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    eval_examples = stage_examples(stage, StageInput.Role.EVAL, params.eval_split)
    if not eval_examples:
        eval_examples = stage_examples(stage, StageInput.Role.TRAIN, "test")
    resume = retrying(stage.resume_checkpoint)() if stage.attempt > 1 else None
    with stage_sink(stage, examples + eval_examples) as sink:
        result = run_sft(
            model_path=model_path(stage),
            examples=records(examples),
            eval_examples=records(eval_examples) or None,
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            sink=sink,
            special_token=params.special_token,
            samples_per_eval=params.samples_per_eval,
            max_new_tokens=params.max_new_tokens,
            resume_from_checkpoint=resume.path if resume else None,
        )
    if is_main_process():
        write_retrying(checkpoint_record, stage_pk=stage.pk, step=result.steps,
                       path=result.checkpoint_path, final=True)
    return {"steps": result.steps, "train_loss": result.train_loss, "seconds": result.seconds}
