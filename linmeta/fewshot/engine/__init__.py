"""The few-shot engine: layers with hand-derived backward passes (:mod:`.layers`), the Conv-4
(:mod:`.network`), the meta-learners' inner loops and meta-gradients (:mod:`.meta`), Adam
(:mod:`.optim`), tasks over threads (:mod:`.parallel`), evaluation (:mod:`.evaluate`), a run's
memory and time before it starts (:mod:`.budget`) and training runs with checkpoints
(:mod:`.train`)."""
