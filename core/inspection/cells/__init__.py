"""One cell at a time: every hidden unit's activation over a whole text, read in one pass, and
the units that fire on a pattern.

Karpathy, Johnson and Fei-Fei (Visualizing and Understanding Recurrent Networks, 2015) coloured
a text by one unit's value and found units that count the position in a line or fire before a
line end; LSTMVis (Strobelt et al., 2016) ranks the units that are on across a stretch of text
the user selects and off around it, and finds where else they are on together.

`read_cells` runs the network once over the text (the top layer's h after every token, and the
cell state c of an LSTM); `rank_pattern` scores every unit against a named pattern that needs no
labels (PATTERNS), `rank_selection` against a span of tokens. A yes/no pattern is scored by the
area under the ROC curve (AUC: the chance that the unit is higher at a random token where the
pattern holds than at one where it does not), a count by Pearson's correlation. A unit's sign is
arbitrary (a unit that goes down before every line end is as telling as one that goes up), so
units are ranked by how far they lean either way: max(AUC, 1 − AUC), or |r|.

Modules: `reading.py` (one pass over a text: CellReading), `patterns.py` (the named patterns and
the rhyme groups they use), `scores.py` (AUC and correlation for every unit at once),
`ranking.py` (the rankings, LSTMVis's selection rule and where the selected units fire together).
"""
