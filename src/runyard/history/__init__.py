"""The history engine: per-(run, metric) columnar chunks with a level-of-detail pyramid.

The per-step rows stay the source of truth. Every ``SEAL_LINES`` history lines, the lines
are sealed into one chunk per numeric metric: compressed columns (steps, values, wall times)
plus aggregates at two coarser levels. A metric's newest chunk grows by the next seals'
points while it is small. A chart query reads the coarsest level whose entries
fit its buckets, decodes raw points only at the edges of its step range, and reads the
not-yet-sealed tail from the rows.
"""
