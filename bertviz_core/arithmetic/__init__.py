"""A keras-bert model's size by arithmetic: pure Python, nothing built, nothing imported from TensorFlow.

``config`` (the validated configuration), ``params`` (every layer's parameters, as keras-bert
builds it), ``costs`` (memory and FLOPs), ``growth`` (sweeps along one setting), ``presets`` (the
notebook's steps and Google's sizes), ``explorer_state`` (the explorer's state and its shared
link), ``explain`` (the sentences that explain the figures).
"""
