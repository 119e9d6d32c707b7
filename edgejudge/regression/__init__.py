"""Did this release get worse? Two runs of the same judge compared row by row:
`statistics` (paired, pure), `gates` (`--fail-if`, parsed), `compare` (the journals read and
joined: `edgejudge diff`, `edgejudge.diff`)."""
