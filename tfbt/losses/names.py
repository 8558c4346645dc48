"""The options the losses accept, by name: importable without TensorFlow, so that the command
line can offer them as choices (``tfbt train --help``) without loading it."""

LOSSES = ("full", "sampled", "sce")  # next-item: full softmax, sampled softmax, Scalable CE
SAMPLERS = ("uniform", "in_batch")  # sampled-softmax negatives
LAMBDA_PLACEMENTS = ("off_diagonal", "on_diagonal")  # which Barlow Twins term lambda weighs
# BT-SR's Barlow Twins: "authors" = btsr_barlow_twins_loss (their code: unbiased std, terms / D),
# "zbontar" = barlow_twins_loss (Zbontar et al.: biased std, terms not divided by D).
BT_FORMS = ("authors", "zbontar")
