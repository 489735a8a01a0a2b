# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_netbalance_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_netbalance_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_netbalance_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_netbalance_using_subcommand
    set -l cmd (__fish_netbalance_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c netbalance -n "__fish_netbalance_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_needs_command" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_needs_command" -s V -l version -d 'Print version'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "testbed" -d 'Generate a testbed description (hosts × CPUs)'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "cost" -d 'Print τ of a placement with its bottleneck; with --target also T_r and χ'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "topology" -d 'Generate the paper\'s topologies (grid, waxman, campus, internet) or import GML, GraphML, node-link JSON, edge lists, containerlab YAML'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "place" -d 'Place vnodes on VMs (minimise τ), or re-place from --placement when it pays (χ < 0)'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "monitor" -d 'Sample the deployed vnodes\' load; one snapshot per interval (NDJSON)'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "calibrate" -d 'Measure migration phases on the testbed; print a costs profile'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "balance" -d 'The closed loop: every window re-place and migrate when it pays (χ < 0); --replay for what-if'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "migrate" -d 'Bring the testbed to a target placement: deploy, live-migrate, tear down; print the placement reached'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "simulate" -d 'Rerun the paper\'s evaluation (video sensor network, moving sink): per-window τ and decisions, relative runtime'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "predict" -d 'Predict the load of the next window from an NDJSON load stream; --evaluate scores predictors'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "lab" -d 'A testbed of real QEMU VMs on this machine: up, status, ssh, down'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "status" -d 'What is deployed and what really runs: per vnode its VM, pid, CPU so far, links, health'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "export" -d 'Write a placement as the node → host mapping MaxiNet or Distrinet takes'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c netbalance -n "__fish_netbalance_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l hosts -d 'Number of physical hosts' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l cpus -d 'CPUs (= VMs) per host' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l nic-mbps -d 'NIC bandwidth of every host, Mbit/s' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l capacity -d 'CPU capacity of every VM (CPU-seconds per second)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l ssh -d 'Reach VM v of host h at this ssh target: {h}, {v}, {i} (VM number in the testbed), with offsets like {i+10}' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l hosts-file -d 'The VMs of a real cluster, one `user@host[:port] [HOST]` per line (replaces --hosts and --cpus)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -l local-cpus -d 'CPUs of this machine, which does the work of moves between local VMs (model §3) [default: unset, each VM its own CPU]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand testbed" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l placement -d 'The current placement φ [default: stdin]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l target -d 'A proposed placement φ′: adds T_r and χ' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l load -d 'Load snapshots (NDJSON; the last one is used) [default: the topology\'s expected load]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l costs -d 'A costs profile (e.g. from `calibrate`) [default: the testbed\'s costs, else the model\'s defaults]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed\'s "migration", else stop-copy]' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l tp -d 'Prediction window T_p, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l to -d 'Optimisation budget T_o, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -l human -d 'Print a table for people instead of JSON'
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand cost" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "grid" -d 'A width × height grid (ids n0… row-major, 4-neighbour links)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "waxman" -d 'A Waxman random graph: P(u,v) = alpha·exp(−d/(beta·√2)) in the unit square, made connected'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "campus" -d 'The multi-campus benchmark: 548 vnodes per campus, campuses joined in a ring backbone'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "internet" -d 'An Internet-like graph (GLP preferential attachment, heavy-tailed degrees)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "paper" -d 'One of the paper\'s topologies at the paper\'s size (grid 1,600, waxman 2,500, campus 5,480, internet 2,113)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "import" -d 'Import a Topology Zoo GML or GraphML file, networkx node-link JSON, an edge list or a containerlab topology (`-`: stdin)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and not __fish_seen_subcommand_from grid waxman campus internet paper import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l width -d 'Vnodes per row' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l height -d 'Rows' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from grid" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l nodes -d 'Vnodes' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l alpha -d 'Link density, in (0, 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l beta -d 'Reach of links relative to the square\'s diagonal, > 0 (BRITE\'s default 0.2 is dense: mean degree 84 at 2,500 nodes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from waxman" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l campuses -d 'Campuses (548 vnodes each; 10 = the paper\'s 5,480)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from campus" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l nodes -d 'Vnodes' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from internet" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from paper" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -l format -d 'The file\'s format [default: by extension, else by content]' -r -f -a "json\t'netbalance\'s own JSON (model §1)'
gml\t'Graph Modelling Language, as the Internet Topology Zoo writes it'
graphml\t'GraphML (XML), as the Internet Topology Zoo writes it'
node-link\t'networkx node-link JSON (`nodes` and `links`/`edges`), e.g. topohub\'s files'
edge-list\t'One link per line: `a b [mbps]`; `#` starts a comment'
containerlab\t'containerlab topology YAML (`topology.nodes`, `topology.links` with `endpoints`)'"
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -l memory-mb -d 'Memory of every vnode\'s software under test, MB [default: 10]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -l mbps -d 'Bandwidth of every link, Mbit/s [default: the file\'s link speed, else 1000]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -l delay-ms -d 'Delay of every link, ms [default: 1]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -l stats -d 'Print nodes, links, degrees, components and a diameter estimate to stderr'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "grid" -d 'A width × height grid (ids n0… row-major, 4-neighbour links)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "waxman" -d 'A Waxman random graph: P(u,v) = alpha·exp(−d/(beta·√2)) in the unit square, made connected'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "campus" -d 'The multi-campus benchmark: 548 vnodes per campus, campuses joined in a ring backbone'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "internet" -d 'An Internet-like graph (GLP preferential attachment, heavy-tailed degrees)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "paper" -d 'One of the paper\'s topologies at the paper\'s size (grid 1,600, waxman 2,500, campus 5,480, internet 2,113)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a Topology Zoo GML or GraphML file, networkx node-link JSON, an edge list or a containerlab topology (`-`: stdin)'
complete -c netbalance -n "__fish_netbalance_using_subcommand topology; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l placement -d 'The current placement φ: re-place from it (minimise χ) [default: none, initial placement]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l load -d 'Load snapshots (NDJSON; the last one is the prediction) [default: stdin when piped, else the topology\'s expected load]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l costs -d 'A costs profile (e.g. from `calibrate`) [default: the testbed\'s costs, else the model\'s defaults]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed\'s "migration", else stop-copy]' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l tp -d 'Prediction window T_p, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l budget -l to -d 'Optimisation budget T_o, seconds of wall clock (also the T_o of χ)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l moves -d 'Stop after N moves evaluated instead of at the time budget (same seed: same output)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l pin -d 'Run VNODE on VM (repeatable)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l forbid -d 'Place no vnode on VM (repeatable)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -l max-moves -d 'Re-placement: migrate at most N vnodes' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand place" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l interval -d 'Seconds between snapshots (real time)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l count -d 'Stop after this many snapshots [default: run until interrupted]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l dilation -d 'The time dilation factor τ in force (real seconds per virtual second): rates are per virtual second' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l placement -d 'The placement in force [default: <state-dir>/placement.json]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l state-dir -d 'The placement in force and the migration journal' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l state-root -d 'Where vnode state lives on the VMs' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l known-hosts -d 'known_hosts file for the VMs\' host keys [default: the testbed\'s "known_hosts", else ~/.ssh/known_hosts]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -s i -l identity -d 'Private key for the VMs [default: the testbed\'s "identity", else ssh-agent]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l dirty -d 'Also measure each vnode\'s dirty rate (MB/s) from the kernel\'s soft-dirty bits, where the VMs track them ("dirty_mb_s")'
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -l accept-new -d 'Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused'
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand monitor" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l costs -d 'A costs profile (e.g. from `calibrate`) [default: the testbed\'s costs, else the model\'s defaults]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed\'s "migration", else stop-copy]' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l sizes-mb -d 'Memory of the probe vnodes, MB (one migration per size and VM pair)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l repeats -d 'Migrations per size and pair (the fastest counts)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l state-root -d 'Where vnode state lives on the VMs' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l report -d 'Also write each phase apart, beside the paper\'s Table 1, as JSON to FILE (the same table goes to stderr)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l criu -d 'The criu binary on the VMs' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l state-dir -d 'The placement in force and the migration journal' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l known-hosts -d 'known_hosts file for the VMs\' host keys [default: the testbed\'s "known_hosts", else ~/.ssh/known_hosts]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -s i -l identity -d 'Private key for the VMs [default: the testbed\'s "identity", else ssh-agent]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -l accept-new -d 'Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused'
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand calibrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l replay -d 'What-if: drive the loop from a recorded load stream (NDJSON, `-` for stdin); touches no host' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l interval -d 'Monitor sampling interval, seconds (with --replay: how long the last sample stands)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l tp -d 'Prediction window T_p, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l to -d 'Optimisation budget T_o, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l predictor -d 'Prediction method [default: last; `predict --evaluate`: all three]' -r -f -a "last\t'The last measured value (the paper\'s choice)'
ewma\t'Exponentially weighted moving average (--alpha)'
periodic\t'Seasonal: the value one detected period back (the period that fits the history best, up to --max-lag), else the last value'"
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l alpha -d 'EWMA weight of the newest sample, 0 < α ≤ 1' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l max-lag -d 'Longest period the periodic method looks for, in samples' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l history -d 'Samples of history a prediction uses (the most recent)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l moves -d 'Search each window for N moves instead of T_o of wall clock (same seed: same log)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l max-moves -d 'Migrate at most N vnodes per window' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l min-gain -d 'Re-place only if it saves at least this fraction of the window\'s rest (−χ / ((T_p − T_o)·τ))' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l windows -d 'Stop after N windows' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l duration -d 'Stop after S seconds (with --replay: seconds of the recorded stream)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l placement -d 'The placement in force at the start [default: the state dir\'s, else an initial placement for the first load]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l costs -d 'A costs profile (e.g. from `calibrate`) [default: the testbed\'s costs, else the model\'s defaults]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed\'s "migration", else stop-copy]' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l state-dir -d 'The placement in force and the migration journal' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l load -d 'Live: take load snapshots from this NDJSON stream (`-`: stdin, e.g. from `netbalance monitor`) instead of sampling the testbed' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l state-root -d 'Live: where vnode state (pid, CRIU images) lives on the VMs' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l known-hosts -d 'known_hosts file for the VMs\' host keys [default: the testbed\'s "known_hosts", else ~/.ssh/known_hosts]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -s i -l identity -d 'Private key for the VMs [default: the testbed\'s "identity", else ssh-agent]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l report -d 'Write a plot of τ over time (.svg, .png or .pdf by FILE\'s extension) and print a table of the windows on stderr' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l plot-size -d 'Size of the plot, WIDTHxHEIGHT pixels [default: 960x500]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l plot-dpi -d 'Resolution: a PNG gets size × DPI / 96 pixels; a PDF page is the size at DPI pixels per inch [default: 96]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l accept-new -d 'Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused'
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -l fresh -d 'Start over: forget the run saved in the state dir (a finished what-if run is otherwise refused)'
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand balance" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l target -d 'The placement to reach [default: stdin]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l placement -d 'The placement in force [default: the state dir\'s]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l state-dir -d 'The placement in force and the migration journal' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l costs -d 'A costs profile (e.g. from `calibrate`) [default: the testbed\'s costs, else the model\'s defaults]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1) [default: the testbed\'s "migration", else stop-copy]' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l state-root -d 'Where vnode state (pid, CRIU images) lives on the VMs' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l known-hosts -d 'known_hosts file for the VMs\' host keys [default: the testbed\'s "known_hosts", else ~/.ssh/known_hosts]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -s i -l identity -d 'Private key for the VMs [default: the testbed\'s "identity", else ssh-agent]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l dry-run -d 'Print the plan (a migration plan, or a deployment plan when nothing is in force) and touch nothing'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l commands -d 'With --dry-run: also print on stderr every command the migration would run and on which VM (the topology\'s `run` lines included), touching no host'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l teardown -d 'Stop every vnode in force and remove its namespaces and links'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l resume -d 'Finish a migrate that crashed, from the state dir\'s journal'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l rollback -d 'Undo a migrate that crashed, from the state dir\'s journal'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -l accept-new -d 'Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l topology -d 'grid (40×40), waxman (2,500), campus (5,480), internet (2,113), or a topology FILE' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l hosts -d 'Physical hosts of the simulated testbed' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l cpus -d 'CPUs (= VMs) per host' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l tp -d 'Prediction window T_p, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l to -d 'Optimisation budget T_o, seconds' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l memory-mb -d 'Memory of the software under test in every vnode, MB (state a migration moves)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l migration -d 'How vnodes migrate, and so how a move is priced (model §3.1)' -r -f -a "stop-copy\t'Pause, dump the whole memory, copy it, restore (the paper\'s; T_r grows with memory)'
post-copy\t'Pause for the non-memory state only; the vnode resumes on the destination and pulls its pages lazily'
pre-copy\t'Copy memory in rounds while the vnode runs; pause for the last dirty pages'"
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l rate -d 'R: Mbit/s every vnode streams to the sink' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l epochs -d 'Epochs (the sink changes epochs − 1 times)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l epoch-s -d 'Virtual seconds between sink changes' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l runs -d 'Independent runs (sinks and optimiser seeds differ per run)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l seed -d 'Seed for every random choice (same seed and --moves: same bytes)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l moves-per-s -d 'Placer moves per second of T_o: the optimiser budget is T_o × this (ours measured 0.5–1.7 M/s; the default is lower to keep runs short)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l initial-s -d 'Seconds of placer time (× --moves-per-s) for the initial placement' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l detect-s -d 'Virtual seconds before a sink change is seen (0: at once)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l costs -d 'A costs profile [default: the paper profile of model §6]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l c-proc -d 'CPU-seconds a vnode spends per Mbit it receives or sends' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l nic-mbps -d 'NIC bandwidth of every host, Mbit/s' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l format -d 'Output format of the window records (csv: one row per window; the summary line goes to stderr)' -r -f -a "ndjson\t''
csv\t''"
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l plot -d 'Also plot τ over time of run 0 (with vs without), .svg, .png or .pdf' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l plot-size -d 'Size of the plot, WIDTHxHEIGHT pixels [default: 960x500]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l plot-dpi -d 'Resolution: a PNG gets size × DPI / 96 pixels; a PDF page is the size at DPI pixels per inch [default: 96]' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l threads -d 'Worker threads [default: the number of CPUs]; the output does not depend on it' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -l loads -d 'Write the scenario\'s load instead (run 0: one snapshot per epoch, NDJSON), e.g. for `balance --replay`'
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand simulate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l load -d 'Load snapshots (NDJSON) [default: stdin]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l predictor -d 'Prediction method [default: last; `predict --evaluate`: all three]' -r -f -a "last\t'The last measured value (the paper\'s choice)'
ewma\t'Exponentially weighted moving average (--alpha)'
periodic\t'Seasonal: the value one detected period back (the period that fits the history best, up to --max-lag), else the last value'"
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l alpha -d 'EWMA weight of the newest sample, 0 < α ≤ 1' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l max-lag -d 'Longest period the periodic method looks for, in samples' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l history -d 'Samples of history a prediction uses (the most recent)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -l evaluate -d 'Score the method(s) on the stream instead: error per window, then a summary'
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand predict" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -f -a "up" -d 'Build the image if needed, boot N VMs, write DIR/testbed.json, DIR/known_hosts, DIR/id_ed25519'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -f -a "down" -d 'Stop the lab\'s VMs and remove its network namespace, veth, disks and files'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -f -a "status" -d 'Print the lab\'s VMs as JSON (exit 1: no lab, or a VM is not running)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -f -a "ssh" -d 'Open a shell on a lab VM, or run one command there (stdout, stderr and exit code passed through)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and not __fish_seen_subcommand_from up down status ssh help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -l vms -d 'Number of VMs (hosts h0..h<N-1>, one VM h<i>-v0 each)' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -l dir -d 'The lab directory (testbed.json, known_hosts, id_ed25519 and lab/ go there)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -l memory-mb -d 'Memory of each VM, MB' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -l boot-timeout-s -d 'Seconds each VM may take to answer SSH' -r
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -l no-provision -d 'Do not copy this netbalance binary to the VMs now (it is copied on first use)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from down" -l dir -d 'The lab directory (testbed.json, known_hosts, id_ed25519 and lab/ go there)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from down" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from down" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from status" -l dir -d 'The lab directory (testbed.json, known_hosts, id_ed25519 and lab/ go there)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from ssh" -l dir -d 'The lab directory (testbed.json, known_hosts, id_ed25519 and lab/ go there)' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from ssh" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from ssh" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from ssh" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "up" -d 'Build the image if needed, boot N VMs, write DIR/testbed.json, DIR/known_hosts, DIR/id_ed25519'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "down" -d 'Stop the lab\'s VMs and remove its network namespace, veth, disks and files'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "status" -d 'Print the lab\'s VMs as JSON (exit 1: no lab, or a VM is not running)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "ssh" -d 'Open a shell on a lab VM, or run one command there (stdout, stderr and exit code passed through)'
complete -c netbalance -n "__fish_netbalance_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l state-dir -d 'The placement in force and the migration journal' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l topology -d 'The topology (netbalance JSON, GML, GraphML, node-link JSON, edge list or containerlab YAML) [default: the placement\'s "topology"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l state-root -d 'Where vnode state lives on the VMs' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l known-hosts -d 'known_hosts file for the VMs\' host keys [default: the testbed\'s "known_hosts", else ~/.ssh/known_hosts]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -s i -l identity -d 'Private key for the VMs [default: the testbed\'s "identity", else ssh-agent]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l accept-new -d 'Accept (and record) the key of a VM not yet in known_hosts; a changed key is always refused'
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -l human -d 'Print a table for people instead of JSON'
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand status" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand export" -l placement -d 'The placement [default: stdin]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand export" -l testbed -d 'The testbed [default: $NETBALANCE_TESTBED, then ./testbed.json, then the placement\'s "testbed"]' -r -F
complete -c netbalance -n "__fish_netbalance_using_subcommand export" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand export" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netbalance -n "__fish_netbalance_using_subcommand completions" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c netbalance -n "__fish_netbalance_using_subcommand completions" -s v -l verbose -d 'Say more on stderr: which files were read, where each input came from'
complete -c netbalance -n "__fish_netbalance_using_subcommand completions" -s h -l help -d 'Print help'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "testbed" -d 'Generate a testbed description (hosts × CPUs)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "cost" -d 'Print τ of a placement with its bottleneck; with --target also T_r and χ'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "topology" -d 'Generate the paper\'s topologies (grid, waxman, campus, internet) or import GML, GraphML, node-link JSON, edge lists, containerlab YAML'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "place" -d 'Place vnodes on VMs (minimise τ), or re-place from --placement when it pays (χ < 0)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "monitor" -d 'Sample the deployed vnodes\' load; one snapshot per interval (NDJSON)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "calibrate" -d 'Measure migration phases on the testbed; print a costs profile'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "balance" -d 'The closed loop: every window re-place and migrate when it pays (χ < 0); --replay for what-if'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "migrate" -d 'Bring the testbed to a target placement: deploy, live-migrate, tear down; print the placement reached'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "simulate" -d 'Rerun the paper\'s evaluation (video sensor network, moving sink): per-window τ and decisions, relative runtime'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "predict" -d 'Predict the load of the next window from an NDJSON load stream; --evaluate scores predictors'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "lab" -d 'A testbed of real QEMU VMs on this machine: up, status, ssh, down'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "status" -d 'What is deployed and what really runs: per vnode its VM, pid, CPU so far, links, health'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "export" -d 'Write a placement as the node → host mapping MaxiNet or Distrinet takes'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and not __fish_seen_subcommand_from testbed cost topology place monitor calibrate balance migrate simulate predict lab status export completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "grid" -d 'A width × height grid (ids n0… row-major, 4-neighbour links)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "waxman" -d 'A Waxman random graph: P(u,v) = alpha·exp(−d/(beta·√2)) in the unit square, made connected'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "campus" -d 'The multi-campus benchmark: 548 vnodes per campus, campuses joined in a ring backbone'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "internet" -d 'An Internet-like graph (GLP preferential attachment, heavy-tailed degrees)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "paper" -d 'One of the paper\'s topologies at the paper\'s size (grid 1,600, waxman 2,500, campus 5,480, internet 2,113)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from topology" -f -a "import" -d 'Import a Topology Zoo GML or GraphML file, networkx node-link JSON, an edge list or a containerlab topology (`-`: stdin)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "up" -d 'Build the image if needed, boot N VMs, write DIR/testbed.json, DIR/known_hosts, DIR/id_ed25519'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "down" -d 'Stop the lab\'s VMs and remove its network namespace, veth, disks and files'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "status" -d 'Print the lab\'s VMs as JSON (exit 1: no lab, or a VM is not running)'
complete -c netbalance -n "__fish_netbalance_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "ssh" -d 'Open a shell on a lab VM, or run one command there (stdout, stderr and exit code passed through)'
