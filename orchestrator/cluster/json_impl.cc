// Boost.JSON compiled once for the orchestrator's libraries (Debian ships it header-only usable).
#include <boost/json/src.hpp>
