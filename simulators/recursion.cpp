#include "simulators/recursion.hpp"
