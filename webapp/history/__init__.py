"""History: what a shift leaves behind, taken from the frames streams show people.

A stream hands each frame it emits to :class:`~webapp.history.recording.Recording`,
which follows the stream with a pure :mod:`~webapp.history.tracker` (alerts, who
handled them, people's actions, the figures a summary needs) and offers the
records to the store's :class:`~webapp.store.recorder.Recorder`, never waiting.
:mod:`~webapp.history.report` reads them back for the history pages.

May import the store, the relay, calls and the wire.
"""
