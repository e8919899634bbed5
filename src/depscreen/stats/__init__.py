"""Pure statistics on scores and labels (numpy, scipy, pandas, scikit-learn; no torch).

    aggregate.py  utterance probabilities -> one per participant; the scoring LEVELS
    platt.py      Platt scaling, class weights, logit
    threshold.py  decision-threshold rules, chosen on dev
    bootstrap.py  participant (cluster) bootstrap CIs from confusion counts
    metrics.py    binary metrics (F1, WA, UA, precision, recall, confusion matrix)

The base layer: models, training, evaluation and inference all use it, so it imports
nothing from depscreen except `depscreen.errors` and its own modules. Import the submodules
directly.
"""
