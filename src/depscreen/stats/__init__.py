"""Pure statistics on scores and labels (numpy, scipy, pandas, scikit-learn; no torch).

    aggregate.py  utterance probabilities -> one per participant; the scoring LEVELS
    platt.py      Platt scaling, class weights, logit
    threshold.py  decision-threshold rules, chosen on dev
    bootstrap.py  participant (cluster) bootstrap CIs from confusion counts
    metrics.py    binary metrics (F1, WA, UA, precision, recall, confusion matrix)
    regression.py PHQ-8 score metrics (RMSE, MAE, Pearson r, CCC), the screen at 10, naive
                  references, severity bands, bootstrap CIs and dev-residual intervals

The base layer: models, training, evaluation and inference all use it, so it imports
nothing from depscreen except `depscreen.errors` and its own modules. Import the submodules
directly.
"""
