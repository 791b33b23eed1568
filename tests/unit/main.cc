#define BOOST_TEST_MODULE authrelay unit tests
#include <boost/test/unit_test.hpp>
