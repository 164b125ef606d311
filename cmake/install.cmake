# `cmake --install build [--prefix P]`: the programs (edgesplitctl with its model tools), the systemd units (ExecStart and the
# documentation link follow the install prefix), the example configurations and the docs.
include(GNUInstallDirs)
# edgesplitctl-model next to edgesplitctl: `edgesplitctl model` execs it from its own directory.
install(TARGETS edgesplit-agent edgesplit-orchestrator edgesplitctl edgesplitctl-model RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# SentencePiece behind a private dlopen (common/CMakeLists.txt): found at <prefix>/lib/edgesplit.
install(TARGETS es_spm_shim LIBRARY DESTINATION lib/edgesplit)

# The units in systemd/ name /usr/local/bin and /usr/share/doc/edgesplit (the default prefix and
# Debian's doc dir); the installed copies name the configured locations.
foreach(unit edgesplit-agent.service edgesplit-orchestrator.service)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/systemd/${unit})
  file(READ ${CMAKE_SOURCE_DIR}/systemd/${unit} text)
  string(REPLACE "/usr/local/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" text "${text}")
  string(REPLACE "/usr/share/doc/edgesplit/" "${CMAKE_INSTALL_FULL_DOCDIR}/" text "${text}")
  file(WRITE ${CMAKE_BINARY_DIR}/systemd/${unit} "${text}")
  # <prefix>/lib/systemd/system is on systemd's unit search path for /usr and /usr/local.
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${unit} DESTINATION lib/systemd/system)
endforeach()
install(FILES config/agent.example.yaml config/orchestrator.example.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES config/grafana/edgesplit.json DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/grafana)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
