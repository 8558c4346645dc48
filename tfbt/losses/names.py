"""The options the losses accept, by name: importable without TensorFlow, so that the command
line can offer them as choices (``tfbt train --help``) without loading it."""

LOSSES = ("full", "sampled", "sce")  # next-item: full softmax, sampled softmax, Scalable CE
SAMPLERS = ("uniform", "in_batch")  # sampled-softmax negatives
LAMBDA_PLACEMENTS = ("off_diagonal", "on_diagonal")  # which Barlow Twins term lambda weighs
# BT-SR's Barlow Twins: "authors" = btsr_barlow_twins_loss (their code: unbiased std, terms / D),
# "zbontar" = barlow_twins_loss (Zbontar et al.: biased std, terms not divided by D).
BT_FORMS = ("authors", "zbontar")
# BT-SR defaults per bt_form: the authors' ML-1M alpha (ssl.lmd) and lambda (lmd_sem) on their
# scale (terms divided by D), and on the Zbontar scale the values tuned on Beauty before.
DEFAULT_BTSR_ALPHA = {"authors": 0.2, "zbontar": 0.02}
DEFAULT_LAMBD = {"authors": 0.05, "zbontar": 1.0}
