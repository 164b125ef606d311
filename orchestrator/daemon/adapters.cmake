# es_orchestrator: the daemon's adapters (control server, REST wiring, gateway, metrics,
# persistence, config) around es_controller; edgesplit-orchestrator is its main().
add_library(es_orchestrator STATIC proto_convert.cc state_store.cc config.cc gateway.cc gateway_generate.cc metrics.cc app.cc
  tokenizers.cc)
target_link_libraries(es_orchestrator PUBLIC es_controller es_api es_tokenizer es_restclient es_http es_net es_proto es_transport es_systemd yaml-cpp
  prometheus-cpp::core Threads::Threads)
add_executable(edgesplit-orchestrator main.cc)
target_link_libraries(edgesplit-orchestrator PRIVATE es_orchestrator)
