"""Looking inside the network: step-through decoding, line scoring, embedding neighbours and the
hidden state. One module per view, as tui/screens/inspect/ has one file per view: `step.py`,
`score.py`, `neighbours.py`, `hidden.py`; `subject.py` the model looked at, `units.py` the
hidden units as drawn, `common.py` what they share.

Everything here works over the Stepper protocol (core/steppers.py), so the same code serves a
checkpoint read with numpy alone (`load_subject`, no torch import) and a snapshot of a model
being trained (`subject_from_run`). Results are small frozen dataclasses with every number
precomputed (probabilities, ranks, bits, quantised hidden units), ready for a view to draw;
`to_dict()` gives plain JSON-ready data.

Conventions: probabilities are the network's softmax at temperature 1 ("model") unless named
"final" (after repetition penalty, temperature, top-k and top-p, exactly as the sampler uses
them, via core.distribution.next_token_distribution). Surprisal and entropy are in bits.
Perplexity is exp(mean nats per token) = 2 ** (mean bits per token), counted over every token
including the end of each line, as `lyrics-tui eval` does.
"""
