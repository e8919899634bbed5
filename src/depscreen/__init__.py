"""depscreen: screening interview recordings for depression by fusing text and speech.

The flow (see README "Design"):

    corpus on disk --prepare--> sessions + utterances (typed records)
                   --features--> per-utterance log-Mel / token ids (cache keyed by config hash)
                   --train--> run folder --evaluate--> metrics --reproduce--> Table I, report
                   --predict--> a new interview's risk
"""

__version__ = "0.1.0"

CAVEAT = (
    "depscreen is a screening research tool, not a diagnostic device; "
    "its outputs are not clinical evidence."
)
