"""The Hub-folder builders of GSI-Bench (``datasets`` builders for GSI-Syn and GSI-Real, cards,
the offline cache installer, publishing, the official-release converter) and the commands that
sit on top of every other package (``build``, ``install-cache``, ``publish``, ``export-official``,
``demo``)."""
