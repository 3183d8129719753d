"""The `training` section: the trainer's hyper-parameters.

Defaults equal those of the paper's reference script (`projects/vi_dln/vi_main.py` of
microsoft/deep-language-networks at 036d895), so a spec that leaves a field out behaves as the
paper's current code does; docs/TRAINING.md maps every option of its scripts to these fields.
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
    num_demos: int = 0
    """k: how many demonstrations (worked training examples) each lm node's prompt learns
    beside its instruction; a node's own `num_demos` overrides it. 0 learns none."""
    num_demo_sets: int | None = None
    """Candidate sets of demonstrations per node and step, each with the current prompt, beside
    the proposed prompts (with the current demonstrations); None: `num_p_samples - 1`, as many
    as the proposed prompts."""
    num_h_samples: int = 3
    """Posterior samples per hidden node and example."""
    posterior_temp: float = 1.0
    include_prior: bool = True
    """Add log p(h | x, prompt_h) to the posterior sharpening weights (the paper's
    `posterior_sharpening_include_prior`)."""
    correct_weighting: bool = False
    """Take log q(h~) off each sample's sharpening logit, so that the weights are importance
    weights of the proposal (the paper's `posterior_sharpening_correct_weighting`). Costs one
    echo score per sample on the backward model."""
    use_mi_regularization: bool = False
    """Take each consumer's log p(target | h~ alone, without its residual input) off the
    sharpening logit (the paper's `posterior_sharpening_use_mi_regularization`)."""
    include_h1: bool = False
    """Let the forward hidden state h compete with the posterior samples in the sharpening.
    The paper's code passes `include_h1=False` since f0d818b; `true` is its June 2023 release."""
    use_h_argmax: bool = False
    """Rank candidate prompts on the best posterior sample h* alone, instead of on every sample
    weighted by its sharpening weight."""
    use_nce: bool = False
    """Score a hidden node's candidates by the NCE objective: how well each tells the posterior
    samples apart (a softmax over the samples), instead of their weighted log-likelihood."""
    strip_options_for_hidden: bool = False
    """Hidden nodes reading the input see it without its BBH `Options:` block (forward,
    posterior and proposals; validation and test too), as the paper's navigate.sh runs."""
    burn_in_ratio: float = 0.05
    """Fraction of a free-text target's tokens not scored at its start (the paper's
    `burn_in_ratio`, 46be79a); 0 scores every token."""
    num_p1_steps: int = 1
    """Rounds of proposals and ranking per step for hidden nodes, each proposing from the
    previous round's best prompt."""
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
    `function(prediction, example) -> float` in [0, 1], 1 for a right answer (loss = 1 - score);
    `example` is the `dlngraph.data.Example` scored (input, target, id)."""
    extract: Literal["last_number"] | ExtractRegex | None = None
    """What of a free-text answer the loss compares: the last number in it, or a regex's first
    group (the whole match without groups); None compares the whole answer."""
    val_freq: int = 2
    tolerance: int = -1
    """The paper's patience: after this many validations without improvement, the best prompts
    so far are loaded back and training goes on from them; -1 never reloads."""
    early_stop: int = -1
    """Stop training after this many validations without improvement; -1 never stops early."""
    selection_z: float = 1.645
    """How many standard errors a network's gain on dev over the best so far must reach to replace
    it, in a paired test on the same dev examples (McNemar's, for right-or-wrong losses): with
    100 dev examples, taking the best of several candidates otherwise keeps networks that won by
    a few examples' noise and lose on test. 0 keeps any gain, as the paper's code does."""
    validate_top: int = 1
    """How many of a step's best-ranked networks are validated on dev when the step is (the
    step's choice, then its runners-up: `dln/shortlist.py`); training goes on from the best of
    them on dev. The batch ranks candidates on a few examples, too few to pick one reliably;
    each more network costs a dev pass. 1 validates the choice alone, as the paper does."""
    do_first_eval: bool = True
    """Validate the initial prompts on dev before the first step, so a run shows start -> best.
    The paper's scripts leave it off (`--do_first_eval`); it costs one dev pass per run."""
    seed: int = 42
    backward_model: str | None = None
    """Model for prompt and posterior proposals; defaults to each node's own model."""
    proposal_max_tokens: int = 512
    posterior_max_tokens: int = 256
