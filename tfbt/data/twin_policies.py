"""BT-SR twin policies by name (``tfbt.data.btsr_pairs`` says what each does), importable
without TensorFlow so that ``tfbt train --help`` can list them."""

POLICIES = ("last-item", "any-prefix")  # which other user's sequence is the twin
NO_TWIN = ("self", "skip")  # what a user without a twin gets
