// The one translation unit that provides doctest's main(); every other tests/unit/*.cpp file
// only includes <doctest/doctest.h> and defines TEST_CASEs.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
