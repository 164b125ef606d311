// edgesplitctl: model tools, offline planning and the REST client. Commands register
// themselves from cmd_*.cc files in this folder (see common/base/subcommand.h).
#include "common/base/subcommand.h"

int main(int argc, char** argv) {
  return edgesplit::RunSubcommandMain("edgesplitctl", "edgesplit model tools, planner and control client", argc, argv);
}
