#include "data/study_file.hpp"
