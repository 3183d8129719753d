"""The `training` section: the trainer's hyper-parameters.

Defaults equal those of the paper's reference script (`vi_main.py`), so a spec that leaves a
field out behaves as the paper's code did.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class ExtractRegex(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    regex: str


class TrainingSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    iterations: int = 20
    batch_size: int = 20
    balance_batch: bool = False
    num_p_samples: int = 5
    """Candidate prompts per trainable node and step (the current prompt is one of them)."""
    num_h_samples: int = 3
    """Posterior samples per hidden node and example."""
    posterior_temp: float = 1.0
    include_prior: bool = True
    """Add log p(h | x, prompt_h) to the posterior sharpening weights."""
    rewrite_loss_only: bool = False
    """Sample hidden posteriors only for examples the network got wrong."""
    trust_factor: float = 0.0
    use_memory: int = 0
    """How many of the best past prompts to keep as candidates."""
    held_out_prompt_ranking: bool = False
    logp_penalty: float = 0.0
    decay_logp_penalty: bool = True
    output_scoring: Literal["logprobs", "accuracy"] = "logprobs"
    hidden_scoring: Literal["logprobs", "accuracy"] = "logprobs"
    loss: str = "exact_match"
    """`exact_match`, `number_presence`, or a Python metric `package.module:function` called as
    `function(prediction, target) -> float` in [0, 1], 1 for a right answer (loss = 1 - score)."""
    extract: Literal["last_number"] | ExtractRegex | None = None
    """What of a free-text answer the loss compares: the last number in it, or a regex's first
    group (the whole match without groups); None compares the whole answer."""
    val_freq: int = 2
    tolerance: int = -1
    """Validations without improvement before early stop; -1 never stops early."""
    do_first_eval: bool = True
    """Validate the initial prompts on dev before the first step, so a run shows start -> best.
    The paper's scripts leave it off (`--do_first_eval`); it costs one dev pass per run."""
    seed: int = 42
    backward_model: str | None = None
    """Model for prompt and posterior proposals; defaults to each node's own model."""
    proposal_max_tokens: int = 512
    posterior_max_tokens: int = 256
