es_add_test(orch_daemon_adapters_test SOURCES proto_convert_test.cc state_store_test.cc config_test.cc gateway_generate_test.cc gateway_test.cc
  LIBS es_orchestrator TIMEOUT 60)
