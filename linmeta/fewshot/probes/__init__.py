"""Measurements of trained few-shot models: Kao22's contrastive form of the meta-gradient
(:mod:`.contrastive`) and cosine probe (:mod:`.cosine_probe`), Raghu20's feature-reuse probes
(:mod:`.reuse`), and the contrastive analysis's figures (:mod:`.plotting`)."""
