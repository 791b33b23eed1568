#define BOOST_TEST_MODULE authrelay protocol tests
#include <boost/test/unit_test.hpp>
