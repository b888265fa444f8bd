"""Model zoos: a folder of OpenModelDB entries in (`index`), which entries
srconvert builds and on which shard (`plan`, with the families it knows in
`families`)."""
