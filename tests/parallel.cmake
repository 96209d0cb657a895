# SPDX-License-Identifier: MIT
# What the tests share, for `ctest -j N` (.ci/run's sanitizer stage runs the suite so).
# Most tests wait on timers and round trips, each in labs, ports and temp dirs of its
# own: labs named t<pid><x> (t_lab_name), natlab run's unique names or run<pid>, ports
# the kernel picks (or retried), files under mktemp -d. The tests below share something
# with every other test, or with some: tests/README.md says how to decide for a new one.
# The README's sequential `ctest` ignores all of this (same tests, same order).

option(NATLAB_TEST_COST "COST on the long tests, for ctest -j (.ci/run's build-asan)" OFF)

# RUN_SERIAL: ctest starts it when nothing else runs, and nothing beside it.
# - Machine-wide sweeps of lab state, which would take another test's lab for a dead one.
#   lab_lifecycle runs `natlab cleanup`: it removes every lab whose owner is gone (lab_run's
#   and lab_soak's labs between their kill -9 and their `natlab down`) and the namespaces
#   of a lab whose state is already gone (a `natlab down` half done). t_state sweeps every
#   hidden state directory without an owner file (lab_state_remove_unfinished(NULL)): a
#   `natlab up` between its mkdir and its owner file loses its directory and fails.
# - Assertions on time that a loaded CPU breaks (margins of a few ms or percent):
#   t_peer_sync (both peers start round 1 within 5 ms), t_wire (a 20 ms delay within 5 ms,
#   10 Mbit/s within 15 %; failed once beside the fuzzers), t_wire_lab (20 Mbit/s within
#   5 %, 40 ms RTT within 0.5 ms), lab_presets (link presets' RTT within 10 ms),
#   docs_examples (docs/scenarios.md's link example: the fastest of its pings within 5 ms
#   of 40 ms; failed once under ctest -j 3).
# - Protocol timeouts that a loaded CPU under ASan breaks (each failed in one of three
#   ctest -j 3 runs of the sanitizer suite here, never alone): t_peer_loopback (pings
#   every 100 ms against the relay's 300 ms idle timeout), t_peer_token_cmd, and the port
#   mapping tests (natlab-peer's 250 ms probe window, miniupnpd's answers: lab_portmap,
#   t_peer_portmap, t_peer_portmap_unheard, lab_matrix_portmap); t_peer_family (IPv6 must
#   validate within the 100 ms family stagger, two pings 100 ms apart must go direct) and
#   t_peer_fallback (the relay path within 1 s of the last answered ping, ~750 ms of it
#   the protocol's own), judged risky by a read of the suite.
foreach(t lab_lifecycle t_state t_peer_sync t_wire t_wire_lab lab_presets docs_examples
    t_peer_loopback t_peer_token_cmd lab_portmap t_peer_portmap t_peer_portmap_unheard
    lab_matrix_portmap t_peer_family t_peer_fallback)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()

# RESOURCE_LOCK cores: a test that keeps both cores busy by itself; one at a time, beside
# tests that mostly wait. The matrices run their cells two at a time (natlab run --jobs 2:
# lab_matrix, lab_matrix_ipv6, lab_matrix_portmap, lab_adapters, lab_webrtc with a node
# process per peer, t_peer_hardnat); t_peer_matrix and t_peer_matrix_sync start 30 peer
# pairs at once; lab_scale builds 1026 nodes; lab_soak builds and kills 120 labs. Two of
# them together under ASan (ctest -j 4 here) stretched each other's second-scale waits
# until cells fell back to the relay, socat's cells timed out and lab_soak hit its 240 s.
foreach(t lab_matrix lab_matrix_ipv6 lab_matrix_portmap lab_adapters lab_webrtc t_peer_hardnat
    t_peer_matrix t_peer_matrix_sync lab_scale lab_soak)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RESOURCE_LOCK cores)
  endif()
endforeach()

# COST (seconds under ASan, .ci/run's rehearsal): `ctest -j` starts the costliest first,
# so the longest tests do not start last and set the wall time alone. Only where asked
# (-DNATLAB_TEST_COST=ON, .ci/run's build-asan): ctest orders a sequential run by COST
# too, and the README's run keeps its order. ctest's own record of past runs
# (Testing/Temporary/CTestCostData.txt) counts only for tests without a COST.
if(NATLAB_TEST_COST)
  foreach(tc t_peer_nat_timeout:95 lab_webrtc:75 lab_portmap:71 t_peer_token_cmd:64
      lab_adapters:42 lab_soak:33 lab_matrix:32 t_peer_turn:26 t_peer_tls:24
      lab_tcp_nat:24 t_peer_loopback:24 t_peer_directory:23 t_peer_hardnat:22
      t_peer_portmap:30 t_nat_rules:21 oracle_natdiscovery:19 t_peer_fallback:18)
    string(REPLACE ":" ";" tc ${tc})
    list(GET tc 0 t)
    list(GET tc 1 cost)
    if(TEST ${t})
      set_tests_properties(${t} PROPERTIES COST ${cost})
    endif()
  endforeach()
endif()
